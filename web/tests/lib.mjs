// Shared by the browser scripts in this folder (each run by a Go test in
// web/browser*_test.go against a real stack): the environment, checks that
// collect failures rather than stop, axe-core (WCAG 2.2 A and AA) with a
// screenshot of every page checked, sign-in through the dev identity
// provider, and the exit status.
import { chromium } from 'playwright-core'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'

export const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v }
export const base = env('PORTAL_URL')
export const artifacts = env('ARTIFACTS')
export const password = env('DEMO_PASSWORD')
mkdirSync(artifacts, { recursive: true })
const require = createRequire(import.meta.url)
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

export const failures = []
export const check = (ok, what) => { if (!ok) { failures.push(what); console.error('FAIL: ' + what) } else console.log('ok: ' + what) }
let shot = 0

// screenshot saves the page, numbered in the order taken. A screenshot is
// for the people reading the artifacts, not a check: on a loaded machine
// Chromium can wait past any timeout for a frame after the viewport
// changed (the reflow check), so one that times out is tried once more,
// then left out and said so, and the journey goes on to its checks.
export async function screenshot (page, name) {
  const file = `${String(++shot).padStart(2, '0')}-${name}.png`
  for (let attempt = 1; ; attempt++) {
    try {
      await page.screenshot({ path: join(artifacts, file), fullPage: true, timeout: 30000 })
      return file
    } catch (err) {
      if (err.name !== 'TimeoutError') throw err
      if (attempt === 2) {
        console.log(`   ${name}: no screenshot (${err.message.split('\n')[0]})`)
        return '(none)'
      }
    }
  }
}

// audit runs axe-core on the page and saves a screenshot of it.
export async function audit (page, name) {
  await page.waitForLoadState('load')
  await page.addScriptTag({ content: axeSource })
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))
  })
  await reflow(page, name)
  const file = await screenshot(page, name)
  check(result.length === 0, `axe: ${name} (${page.url().replace(base, '')}) has no WCAG 2.2 AA violations` +
    (result.length ? ': ' + JSON.stringify(result) : ''))
  console.log(`   ${name}: screenshot ${file}`)
}

// reflow checks WCAG 1.4.10 on the page: at 320 and at 1280 CSS px wide
// the document is no wider than the viewport (nothing scrolls sideways).
// A failure names the widest elements. The viewport is put back after.
// record is the script's check (this file's unless given).
export async function reflow (page, name, record = check) {
  const before = page.viewportSize()
  for (const width of [320, 1280]) {
    await page.setViewportSize({ width, height: 800 })
    const r = await page.evaluate(() => {
      const vw = window.innerWidth
      const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > vw + 0.5 && e.getClientRects().length)
        .slice(-5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\s+/)[0] : ''))
      return { doc: document.documentElement.scrollWidth, vw, wide }
    })
    record(r.doc <= r.vw, `reflow: ${name} at ${width} px is no wider than the viewport (document ${r.doc} px)` + (r.doc > r.vw ? '; too wide: ' + r.wide.join(', ') : ''))
  }
  await page.setViewportSize(before || { width: 1280, height: 720 })
}

// signIn signs a demo account in (org is 'cafcass' or 'ofsted') in a new
// page of context, and returns the page on the visit list; at is the
// portal's address (the stack's unless given).
export async function signIn (context, org, user, at = base) {
  const page = await context.newPage()
  page.on('dialog', (d) => d.accept())
  await page.goto(at + '/')
  await page.getByRole('button', { name: new RegExp(`Sign in with your ${org === 'cafcass' ? 'Cafcass' : 'Ofsted'}`, 'i') }).click()
  await page.fill('#username', user)
  await page.fill('#password', password)
  await page.click('button[type=submit]')
  await page.waitForURL(at + '/visits')
  return page
}

// follow clicks what leads to another page and waits for that page to
// load. A click waits only for the new page to begin, so a read that does
// not wait (count, inputValue, innerText of what the old page had too,
// allInnerTexts, content) could see it half-parsed.
export async function follow (page, target) {
  await target.click()
  await page.waitForLoadState('load')
}

// launch starts Debian's Chromium. Contexts are made with bypassCSP so the
// test can inject axe-core; the pages themselves run under the portal's CSP.
export async function launch () {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
}

// waitFor polls cond every 50 ms until it holds or ms pass.
export async function waitFor (cond, ms, what) {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for: ' + what)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

// finish writes result.json and exits non-zero when any check failed.
export function finish (name) {
  writeFileSync(join(artifacts, 'result.json'), JSON.stringify({ failures }, null, 2))
  if (failures.length) {
    console.error(`${failures.length} check(s) failed`)
    process.exit(1)
  }
  console.log(`${name} passed`)
}
