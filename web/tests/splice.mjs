// A file chosen again goes on from its earlier upload; a different file
// alike in name, type, size and modification time (copies out of a zip
// keep their times) does not: its bytes would be spliced after the first
// file's, into a file that never existed. Run by TestBrowserResumesOnlyTheSameFile.
import { base, env, check, finish, launch, signIn, waitFor } from './lib.mjs'

const visit = env('VISIT_ID')
const browser = await launch()
try {
  const context = await browser.newContext({ bypassCSP: true })
  const page = await signIn(context, 'cafcass', 'uploader@cafcass.example')
  let phase = 'first'
  const patches = [] // { url, offset, status, ack, phase }
  page.on('requestfinished', async (r) => {
    if (r.method() !== 'PATCH') return
    const res = await r.response()
    patches.push({ url: r.url(), offset: Number(r.headers()['upload-offset']), status: res ? res.status() : 0, ack: res ? Number(res.headers()['upload-offset']) : 0, phase })
  })
  // The first file's PATCHes after its first segment are held until it
  // has been paused: the pause lands with the upload part-way.
  let release
  const released = new Promise((resolve) => { release = resolve })
  let segment = 0
  await page.route('**/uploads/**', async (route) => {
    const r = route.request()
    if (phase === 'first' && r.method() === 'PATCH' && Number(r.headers()['upload-offset']) >= segment) await released
    await route.continue().catch(() => {})
  })
  await page.goto(`${base}/visits/${visit}/upload`)
  await page.waitForSelector('#upload-form[data-ready]')
  segment = Number(await page.getAttribute('#upload-form', 'data-segment-size'))
  // choose picks, as the file input would, a file of four segments of the
  // byte fill, with the same name, type and modification time each time.
  const choose = (fill) => page.evaluate(({ size, fill }) => {
    const file = new File([new Uint8Array(size).fill(fill)], '1.01 Chronology.pdf', { type: 'application/pdf', lastModified: Date.UTC(2026, 10, 2, 9, 0, 0) })
    const dt = new DataTransfer()
    dt.items.add(file)
    const input = document.getElementById('file')
    input.files = dt.files
    input.dispatchEvent(new Event('change', { bubbles: true }))
  }, { size: 4 * segment, fill })
  const status = () => page.evaluate(() => document.getElementById('upload-0-status')?.textContent ?? '')
  const reload = async () => {
    await page.reload()
    await page.waitForSelector('#upload-form[data-ready]')
  }

  await choose(0x41)
  await waitFor(() => patches.some((p) => p.status === 204 && p.ack >= segment), 60000, 'a segment of the first file committed')
  await page.click('#upload-0 button')
  await page.waitForFunction(() => /Paused at/.test(document.getElementById('upload-0-status')?.textContent ?? ''))
  const first = patches.find((p) => p.status === 204).url
  phase = 'paused'
  release()

  // A different file, alike in all four.
  await reload()
  phase = 'other'
  await choose(0x42)
  await page.waitForFunction(() => /Uploaded|Not uploaded/.test(document.getElementById('upload-0-status')?.textContent ?? ''), null, { timeout: 60000 })
  const spliced = patches.filter((p) => p.phase === 'other' && p.url === first)
  check(spliced.length === 0, `a different file alike in name, type, size and time is not sent into the first file's upload (${spliced.length} PATCHes went there, from byte ${spliced[0]?.offset}; its status: ${await status()})`)

  // The first file, chosen again, goes on from where it stopped.
  await reload()
  phase = 'again'
  await choose(0x41)
  await page.waitForFunction(() => /Uploaded|Not uploaded/.test(document.getElementById('upload-0-status')?.textContent ?? ''), null, { timeout: 60000 })
  const again = patches.filter((p) => p.phase === 'again')
  check(again.length > 0 && again[0].url === first && again[0].offset >= segment && /^Uploaded/.test(await status()),
    `the same file chosen again goes on from byte ${segment} or later of its upload (went to ${again[0]?.url === first ? 'it' : again[0]?.url}, from byte ${again[0]?.offset}; its status: ${await status()})`)
} finally {
  await browser.close()
}
finish('splice')
