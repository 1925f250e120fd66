// Sign-in in a real browser, run by web/browser_signin_test.go against a real
// stack in Debian's Chromium: return_to stays on the portal as Chromium parses
// URLs, sign-out is final even for an upload still running, a sign-in
// without a second factor is refused, and a taken file name offers "Keep
// both". Pages are checked with axe-core (WCAG 2.2 AA) and saved as
// screenshots in $ARTIFACTS.
import { chromium } from 'playwright-core'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { reflow, screenshot } from './lib.mjs'

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v }
const base = env('PORTAL_URL')
const artifacts = env('ARTIFACTS')
const visit = env('VISIT_ID')
const password = env('DEMO_PASSWORD')
const passwordOnly = env('PASSWORD_ONLY_USER')
const cases = JSON.parse(readFileSync(env('RETURN_TO_CASES'), 'utf8'))
mkdirSync(artifacts, { recursive: true })
const require = createRequire(import.meta.url)
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

const failures = []
const result = { failures }
const check = (ok, what) => { if (!ok) { failures.push(what); console.error('FAIL: ' + what) } else console.log('ok: ' + what) }

async function audit (page, name) {
  await page.waitForLoadState('load')
  await page.addScriptTag({ content: axeSource })
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
    return r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))
  })
  await reflow(page, name, check)
  await screenshot(page, name)
  check(violations.length === 0, `axe: ${name} has no WCAG 2.2 AA violations` + (violations.length ? ': ' + JSON.stringify(violations) : ''))
}

// signInFrom starts at path (signed out), follows the portal to the dev
// identity provider's form and signs in; it returns where the browser ends.
async function signInFrom (page, path, org, user) {
  await page.goto(base + path)
  if (!page.url().includes('/authorize') && !page.url().includes('/login')) {
    await page.getByRole('button', { name: new RegExp(`Sign in with your ${org === 'cafcass' ? 'Cafcass' : 'Ofsted'}`, 'i') }).click()
  }
  await page.fill('#username', user)
  await page.fill('#password', password)
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')])
  return page.url()
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync']
})

try {
  // --- return_to, as Chromium parses URLs -------------------------------
  // Every Location the portal would send after a sign-in, resolved by this
  // browser against the callback's address, stays on the portal's origin.
  const probe = await browser.newPage()
  await probe.goto(base + '/')
  const escaped = await probe.evaluate(({ cases, base }) => {
    const origin = new URL(base).origin
    const from = base + '/auth/ofsted/callback?code=c&state=s'
    const bad = []
    for (const c of cases) {
      let to = null
      try { to = new URL(c.location, from) } catch {}
      if (!to || to.origin !== origin) bad.push({ raw: c.raw, location: c.location, to: to && to.href })
    }
    return bad
  }, { cases, base })
  check(cases.length > 3000 && escaped.length === 0,
    `Chromium keeps all ${cases.length} return_to values on the portal` + (escaped.length ? ': ' + JSON.stringify(escaped.slice(0, 5)) : ''))
  await probe.close()

  // Real sign-ins: a return_to that a browser would turn into another site
  // ends on the portal; an ordinary one is honoured.
  for (const [raw, want] of [['/\t/evil.example/', '/visits'], ['/\\evil.example', '/visits'], [`/visits/${visit}`, `/visits/${visit}`]]) {
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    const ended = await signInFrom(page, '/auth/ofsted/login?return_to=' + encodeURIComponent(raw), 'ofsted', 'lead@ofsted.example')
    check(ended === base + want, `signed in with return_to ${JSON.stringify(raw)}, the browser is at ${ended} (want ${base + want})`)
    await ctx.close()
  }
  // Following a link while signed out comes back to it after sign-in.
  {
    const ctx = await browser.newContext({ bypassCSP: true })
    const page = await ctx.newPage()
    const ended = await signInFrom(page, `/visits/${visit}/audit`, 'ofsted', 'lead@ofsted.example')
    check(ended === `${base}/visits/${visit}/audit`, `a signed-out link leads back to its page after sign-in (${ended})`)
    await ctx.close()
  }

  // --- Sign-out is final ------------------------------------------------
  // An upload runs while the person signs out in another tab; when it
  // ends, its response must not sign them in again. It is held to a crawl
  // until the sign-out is done, however long that takes, then let go.
  const up = await browser.newContext({ bypassCSP: true })
  const page = await up.newPage()
  await signInFrom(page, '/', 'cafcass', 'uploader@cafcass.example')
  const session = (await up.cookies()).find((c) => c.name.endsWith('portal_session'))
  check(!!session, 'the uploader has a session cookie')
  result.signedOutSession = session && session.value
  const cdp = await up.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 32 * 1024 })
  const uploading = page.evaluate(async (visit) => {
    const body = new Uint8Array(4 << 20).fill(120)
    const res = await fetch(`/api/v1/visits/${visit}/files?name=${encodeURIComponent('Late upload.bin')}`,
      { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } })
    return { status: res.status, ended: Date.now() }
  }, visit)
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const other = await up.newPage()
  await other.goto(base + '/visits')
  await Promise.all([other.waitForURL(base + '/'), other.getByRole('button', { name: /Sign out/ }).click()])
  const signedOut = Date.now()
  await audit(other, 'signed-out')
  const letGo = Date.now()
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  const late = await uploading
  result.lateUploadMs = late.ended - letGo
  check(late.ended > signedOut, `the upload was still running at sign-out (it ended ${late.ended - signedOut} ms after)`)
  check(late.status === 201 || late.status === 401, `the late upload answered ${late.status}`)
  const after = (await up.cookies()).find((c) => c.name.endsWith('portal_session'))
  check(!after, `after the late upload the browser holds no session cookie (${after && after.value.slice(0, 8)})`)
  await page.goto(base + '/visits')
  check(page.url().startsWith(base + '/?return_to='), `after sign-out and a late upload, /visits asks to sign in (${page.url()})`)
  await up.close()

  // --- A second factor is required of the ofsted issuer ------------------
  {
    const ctx = await browser.newContext({ bypassCSP: true })
    const p = await ctx.newPage()
    await signInFrom(p, '/auth/ofsted/login', 'ofsted', passwordOnly)
    const text = await p.locator('main').innerText()
    check(/did not use a second factor/.test(text), 'a sign-in without a second factor is refused with a page that says so')
    await audit(p, 'second-factor-refused')
    await ctx.close()
  }

  // --- A taken name offers "Keep both" ----------------------------------
  {
    const ctx = await browser.newContext({ bypassCSP: true })
    const p = await ctx.newPage()
    await signInFrom(p, '/', 'cafcass', 'uploader@cafcass.example')
    await p.goto(`${base}/visits/${visit}/upload`)
    await p.waitForSelector('#upload-form[data-ready]')
    // A file's name may name a child: it never goes into an address,
    // which proxies and their logs keep.
    const addresses = []
    p.on('request', (r) => addresses.push(decodeURIComponent(r.url())))
    const file = { name: '1.02 Allocation policy.docx', mimeType: 'application/octet-stream', buffer: Buffer.from('allocation policy') }
    await p.setInputFiles('#file', file)
    await p.waitForFunction(() => /Uploaded/.test((document.getElementById('upload-0-status')?.textContent ?? '')), null, { timeout: 30000 })
    await p.setInputFiles('#file', { ...file, buffer: Buffer.from('a second allocation policy') })
    // The page asks before sending (the server would refuse it too).
    await p.waitForFunction(() => /already/.test((document.getElementById('upload-1-status')?.textContent ?? '')), null, { timeout: 30000 })
    check(/already filed under item 1\.02/.test(await p.locator('#upload-1-status').innerText()), 'a second file of the name is held before sending, with the reason')
    await audit(p, 'upload-name-taken')
    await p.getByRole('button', { name: 'Keep both: 1.02 Allocation policy.docx' }).click()
    await p.waitForFunction(() => /Uploaded/.test((document.getElementById('upload-1-status')?.textContent ?? '')), null, { timeout: 30000 })
    const names = await p.evaluate(async (visit) => (await (await fetch(`/api/v1/visits/${visit}/files`)).json()).files.map((f) => f.name), visit)
    check(names.includes('1.02 Allocation policy.docx') && names.includes('1.02 Allocation policy (2).docx'), `"Keep both" stores the second as "(2)" (${names.join(', ')})`)
    const named = addresses.filter((a) => a.includes('Allocation policy'))
    check(named.length === 0, `no address the upload page asked for holds a file's name (${named.join(', ')})`)
    await ctx.close()
  }
} catch (err) {
  failures.push(String(err && err.stack || err))
  console.error(err)
} finally {
  await browser.close()
}

writeFileSync(join(artifacts, 'result.json'), JSON.stringify(result, null, 2))
if (failures.length) {
  console.error(`${failures.length} check(s) failed`)
  process.exit(1)
}
console.log('sign-in browser test passed')
