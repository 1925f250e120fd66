// An upload through a connection that drops for longer than tus-js-client's
// own retries last (about 70 s: home broadband that goes down, a laptop
// that sleeps), run by TestBrowserUploadOutlastsAnOutage
// (web/browser_outage_test.go) against a real stack in Debian's Chromium.
// The upload waits for the connection, says so, and then goes on from the
// last committed segment by itself.
import { env, base, check, audit, signIn, launch, waitFor, finish } from './lib.mjs'

const visit = env('VISIT_ID')
const bigFile = env('BIG_FILE')
const bigSize = Number(env('BIG_SIZE'))
const segment = Number(env('SEGMENT_SIZE'))
// tus-js-client's own retries (portal.mjs: retryDelays) wait this long in
// all before the page is told the upload failed.
const retries = 0 + 1000 + 3000 + 5000 + 10000 + 20000 + 30000

const browser = await launch()
try {
  const up = await browser.newContext({ bypassCSP: true })
  const page = await signIn(up, 'cafcass', 'uploader@cafcass.example')
  const patches = [] // { offset, status, ack }
  page.on('request', (r) => { if (r.method() === 'PATCH') patches.push({ offset: Number(r.headers()['upload-offset']), status: 0, r }) })
  page.on('requestfinished', async (r) => {
    if (r.method() !== 'PATCH') return
    const e = patches.find((x) => x.r === r)
    const res = await r.response()
    if (e && res) { e.status = res.status(); e.ack = Number(res.headers()['upload-offset']) }
  })
  const acked = () => Math.max(0, ...patches.filter((x) => x.status === 204).map((x) => x.ack))
  const status = () => page.locator('#upload-0-status').innerText()

  await page.goto(`${base}/visits/${visit}/upload`)
  await page.waitForSelector('#upload-form[data-ready]')
  await page.setInputFiles('#file', bigFile)
  await waitFor(() => acked() >= segment, 60000, 'a segment committed before the connection drops')
  await up.setOffline(true)
  const dropped = Date.now()
  const committed = acked()
  const sentBefore = patches.length
  // The connection stays down until tus-js-client's retries have run out
  // ("trying again…" until then) and the page has taken over ("will go
  // on"), however long they take on this machine.
  await page.waitForFunction(() => /will go on|Not uploaded/i.test(document.getElementById('upload-0-status')?.textContent ?? ''), null, { timeout: 3 * retries })
  const outage = Date.now() - dropped
  const during = await status()
  check(outage >= retries, `the page waited out tus-js-client's retries (${outage} ms, want ${retries} or more)`)
  check(!/Not uploaded/.test(during), `after ${outage / 1000} s without a connection the upload waits rather than gives up (${during})`)
  check(/connection/i.test(during), `the file's status says the connection was lost (${during})`)
  const heard = await page.locator('#upload-live').innerText()
  check(/connection/i.test(heard), `a screen reader is told the connection was lost (${heard})`)
  await audit(page, 'upload-outage')

  await up.setOffline(false)
  await page.waitForFunction(() => /Uploaded/.test((document.getElementById('upload-0-status')?.textContent ?? '')), null, { timeout: 120000 })
  await waitFor(() => acked() === bigSize, 10000, 'the last PATCH answered with the full length')
  const after = patches.slice(sentBefore).filter((x) => x.status === 204)
  check(after.length > 0 && after.every((x) => x.offset >= committed),
    `after the outage the upload goes on from byte ${committed} or later (${after.map((x) => x.offset).join(', ')})`)
  check(patches.filter((x) => x.offset === 0).length === 1, 'the upload never starts again from byte 0')
  await audit(page, 'upload-after-outage')

  // --- A reload mid-upload: the page still lists the unfinished file -----
  const secondFile = env('SECOND_FILE')
  const secondName = env('SECOND_NAME')
  const mark = patches.length
  const ackedSince = () => Math.max(0, ...patches.slice(mark).filter((x) => x.status === 204).map((x) => x.ack))
  await page.setInputFiles('#file', secondFile)
  await waitFor(() => ackedSince() >= segment, 60000, 'a segment of the second file committed before the reload')
  const beforeReload = ackedSince()
  const reloadMark = patches.length
  // An upload the portal no longer has (expired, or another person's on a
  // shared computer) is not listed, and its name leaves the browser.
  // Nor is one begun under an earlier release's fingerprint, which is
  // never resumed.
  await page.evaluate((v) => {
    for (const [key, filename] of [['tus::portal-tus-1/gone::1', 'Gone report.pdf'], ['tus::tus-br-old::1', 'Old report.pdf']]) {
      localStorage.setItem(key, JSON.stringify({
        size: 10, metadata: { filename, item: '' }, creationTime: new Date().toString(),
        uploadUrl: `/api/v1/visits/${v}/uploads/00000000000000000000000000000000`
      }))
    }
  }, visit)
  await page.reload()
  await page.waitForSelector('#upload-form[data-ready]')
  await page.waitForSelector('#unfinished-uploads li', { timeout: 15000 }).catch(() => {})
  const listed = await page.locator('#unfinished-uploads').isVisible() ? await page.locator('#unfinished-uploads').innerText() : ''
  check(listed.includes(secondName) && /\d+% sent/.test(listed), `after a reload the page lists the unfinished upload (${listed})`)
  check(!listed.includes('Gone report.pdf') && !listed.includes('Old report.pdf'), 'an upload the portal no longer has, or of an earlier release, is not listed')
  const forgotten = await page.waitForFunction(() => localStorage.getItem('tus::portal-tus-1/gone::1') === null && localStorage.getItem('tus::tus-br-old::1') === null, null, { timeout: 10000 }).then(() => true, () => false)
  check(forgotten, 'and their names are removed from the browser')
  await audit(page, 'upload-unfinished-listed')
  await page.setInputFiles('#file', secondFile)
  check(await page.locator('#unfinished-uploads li').count() === 0, 'a file chosen again leaves the list of unfinished uploads')
  // Paused, the file says until when the portal keeps what was sent: the
  // upload's own expiry, counted from when it began, not from the pause.
  await waitFor(() => patches.slice(reloadMark).some((x) => x.status === 204), 60000, 'a segment committed after the reload')
  const head = await page.evaluate(async (u) => {
    const r = await fetch(u, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
    return r.headers.get('Upload-Expires')
  }, new URL(patches.at(-1).r.url()).pathname)
  await page.click('#upload-0 button')
  await page.waitForFunction(() => /Paused at/.test((document.getElementById('upload-0-status')?.textContent ?? '')))
  const paused = await page.locator('#upload-0-status').innerText()
  const until = await page.evaluate((h) => new Date(h).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' }), head)
  check(paused.includes(until) && !/24 hours/.test(paused), `a paused upload says what is kept until ${until}, the portal's expiry (${paused})`)
  await page.click('#upload-0 button')
  await page.waitForFunction(() => /Uploaded/.test((document.getElementById('upload-0-status')?.textContent ?? '')), null, { timeout: 120000 })
  const resumed = patches.slice(reloadMark)
  check(resumed.length > 0 && resumed[0].offset >= beforeReload,
    `after the reload the upload goes on from byte ${resumed[0]?.offset}, not before the ${beforeReload} bytes already committed`)
} catch (err) {
  check(false, 'the script ran to the end: ' + (err.stack || err))
} finally {
  await browser.close()
}
finish('upload through an outage')
