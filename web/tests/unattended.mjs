// A batch of uploads left to run, with nobody at the computer, for longer
// than the session's idle timeout, run by TestBrowserBatchOutlastsIdleTimeout
// (web/browser_outage_test.go) against a real stack in Debian's Chromium.
// The uploads' own requests keep the session alive on the server, so the
// page must not sign the person out, and stop the batch, half-way.
import { env, base, check, audit, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')
const files = Number(env('FILES'))
const runFor = Number(env('RUN_MS'))

const browser = await launch()
try {
  const up = await browser.newContext({ bypassCSP: true })
  const page = await signIn(up, 'cafcass', 'uploader@cafcass.example')
  await page.goto(`${base}/visits/${visit}/upload`)
  await page.waitForSelector('#upload-form[data-ready]')
  // A slow home connection: the batch takes minutes.
  const cdp = await up.newCDPSession(page)
  await cdp.send('Network.enable')
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 48 * 1024 })
  const batch = []
  for (let i = 0; i < files; i++) {
    batch.push({ name: `Case note ${String(i + 1).padStart(3, '0')}.pdf`, mimeType: 'application/pdf', buffer: Buffer.alloc(200 * 1024, i) })
  }
  await page.setInputFiles('#file', batch)
  await new Promise((resolve) => setTimeout(resolve, runFor))
  check(page.url() === `${base}/visits/${visit}/upload`, `after ${runFor / 1000} s of uploading with nobody at the computer the upload page is still open (${page.url()})`)
  const text = await page.locator('#overall-label').innerText().catch(() => '')
  check(/^\d+ of \d+ files uploaded/.test(text) && !/could not be uploaded/.test(text), `the batch is still going (${text})`)
  check(!(await page.locator('#timeout-dialog[open]').count()), 'no sign-out warning is shown while the batch runs')
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 })
  const all = await page.waitForFunction((n) => (document.getElementById('overall-label')?.textContent ?? '').startsWith(`${n} of ${n} files uploaded`), files, { timeout: 120000 })
    .then(() => true, () => false)
  check(all, 'every file of the batch is uploaded')
  const done = Date.now()
  const extended = []
  page.on('request', (r) => { if (new URL(r.url()).pathname === '/session/extend') extended.push((Date.now() - done) / 1000) })
  const me = await page.evaluate(async () => (await fetch('/api/v1/me', { headers: { Accept: 'application/json' } })).status).catch(() => 0)
  check(me === 200, `the person is still signed in after the batch (${me})`)
  await audit(page, 'upload-unattended-batch')
  // Once the batch is over the page is idle: it warns, and signs out, an
  // idle timeout after the batch's last request at the latest. Counting
  // down from the uploads' requests must not move the session on again.
  const idle = Number(env('IDLE_MS'))
  const out = await page.waitForURL((u) => !u.pathname.startsWith('/visits/'), { timeout: 3 * idle }).then(() => Date.now(), () => 0)
  check(extended.length === 0, `left idle after the batch, the page does not ask the portal to keep the session for nobody (${extended.length ? 'POST /session/extend ' + extended.join(' s, ') + ' s after the batch' : 'nothing asked'})`)
  check(out > 0 && out - done <= idle + 5000, `left idle after the batch, the page signs out within the idle timeout (${out ? (out - done) / 1000 + ' s' : 'not in ' + 3 * idle / 1000 + ' s'}, the timeout ${idle / 1000} s)`)
} catch (err) {
  check(false, 'the script ran to the end: ' + (err.stack || err))
} finally {
  await browser.close()
}
finish('a batch left to run')
