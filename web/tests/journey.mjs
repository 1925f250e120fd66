// The browser journey, run by portal/browser_test.go against a real stack
// (MinIO, the dev identity provider, the portal) in Debian's Chromium.
// Every page is checked with axe-core (WCAG 2.2 AA, zero violations) and
// saved as a screenshot in $ARTIFACTS.
import { join } from 'node:path'
import { env, base, artifacts, failures, check, audit, screenshot, signIn as signInAs, launch, waitFor, follow, finish } from './lib.mjs'

const control = env('CONTROL_URL')
const visit = env('VISIT_ID')
const bigFile = env('BIG_FILE')
const bigSize = Number(env('BIG_SIZE'))
const segment = Number(env('SEGMENT_SIZE'))
const folder = env('FOLDER')

// signIn checks the start page on the first, Cafcass, sign-in.
async function signIn (context, org, user, quiet) {
  if (org === 'cafcass' && !quiet) {
    const page = await context.newPage()
    await page.goto(base + '/')
    await audit(page, 'start')
    const font = await page.evaluate(() => getComputedStyle(document.querySelector('h1')).fontFamily)
    // GOV.UK Frontend set to Arial (the portal is not on GOV.UK, so not
    // GDS Transport); an unstyled page would be in the browser's serif.
    check(/^arial/i.test(font), `the GOV.UK Design System styles the pages, in Arial (h1 font: ${font})`)
    await page.close()
  }
  return signInAs(context, org, user)
}

const browser = await launch()

try {
  // --- The provider's uploader ------------------------------------------
  const up = await browser.newContext({ acceptDownloads: true, bypassCSP: true })
  const page = await signIn(up, 'cafcass', 'uploader@cafcass.example')
  await audit(page, 'visits-uploader')
  await page.click(`a[href="/visits/${visit}"]`)
  await audit(page, 'visit-uploader-before')
  check(await page.locator('[id="item-1.01-status"]').innerText() !== 'Received', 'item 1.01 is not received before the upload')
  await page.click(`a[href="/visits/${visit}/upload"]`)
  await page.waitForSelector('#upload-form[data-ready]')
  await audit(page, 'upload')

  // Drag three files, one named with an item number, onto the drop zone.
  const small = [
    { name: '1.01 Structure.pdf', body: '%PDF-1.4 organisational structure\n'.repeat(4000) },
    { name: 'Practice review notes.docx', body: 'notes '.repeat(20000) },
    { name: 'Audit summary.xlsx', body: 'audit,row\n'.repeat(50000) },
    { name: 'report\u202Efdp.exe', body: 'a name that hides its real extension' }
  ]
  const dt = await page.evaluateHandle((files) => {
    const d = new DataTransfer()
    for (const f of files) d.items.add(new File([f.body], f.name, { type: 'application/octet-stream' }))
    return d
  }, small)
  await page.dispatchEvent('#drop-zone', 'dragover', { dataTransfer: dt })
  await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: dt })
  await page.waitForSelector('#upload-queue li:nth-child(4)')
  check(await page.locator('#upload-queue progress').count() === 4, 'each dropped file has a progress bar')
  check((await page.locator('#upload-3-status').innerText()).includes('Not uploaded: The name contains text-direction characters'),
    'a file with a misleading name is refused with a clear message')
  await page.waitForFunction(() => (document.getElementById('overall-label')?.textContent ?? '').startsWith('3 of 3 files uploaded'), null, { timeout: 60000 })
  check(await page.locator('#upload-summary progress').first().evaluate((p) => p.value) === 100, 'the overall progress bar reaches 100%')
  check((await page.locator('#upload-0-status').innerText()).includes('Filed under item 1.01'), '1.01 Structure.pdf is filed under item 1.01')
  // A folder (with a sub-folder) chosen at once: every file in it is sent.
  await page.setInputFiles('#folder', folder)
  await page.waitForFunction(() => (document.getElementById('overall-label')?.textContent ?? '').startsWith('5 of 5 files uploaded'), null, { timeout: 60000 })
  const folderStatuses = [await page.locator('#upload-4-status').innerText(), await page.locator('#upload-5-status').innerText()].join(' ')
  check(folderStatuses.includes('Filed under item 3.01') && folderStatuses.includes('Filed under item 3.02'),
    `both files of a chosen folder are uploaded and filed (${folderStatuses})`)
  await audit(page, 'upload-done')

  // When the uploader's window has closed, a new file is refused with the
  // server's words.
  await fetch(control + '/clock?days=40', { method: 'POST' })
  await page.setInputFiles('#file', { name: '1.04 Late feedback.pdf', mimeType: 'application/pdf', buffer: Buffer.from('late') })
  await page.waitForFunction(() => /Not uploaded/.test((document.getElementById('upload-6-status')?.textContent ?? '')), null, { timeout: 30000 })
  const late = await page.locator('#upload-6-status').innerText()
  check(/uploads are closed for you on this visit/.test(late) && /clos/i.test(late.split('visit.')[1] || ''), `a file sent after the window closed is refused with a reason (${late})`)
  await fetch(control + '/clock?days=0', { method: 'POST' })
  await page.click(`a[href="/visits/${visit}#request"]`)
  await page.waitForURL(new RegExp(`/visits/${visit}`))
  check((await page.locator('[id="item-1.01-status"]').innerText()).startsWith('Received'), 'item 1.01 is ticked as received')
  await audit(page, 'visit-uploader-after')

  // --- A 200 MiB upload, interrupted by a reload, then by a restart ------
  const patches = [] // { offset, status, phase }
  let phase = 'first'
  const watch = (p) => {
    p.on('request', (r) => { if (r.method() === 'PATCH') patches.push({ offset: Number(r.headers()['upload-offset']), phase, status: 0, r }) })
    p.on('requestfinished', async (r) => {
      if (r.method() !== 'PATCH') return
      const e = patches.find((x) => x.r === r)
      const res = await r.response()
      if (e && res) { e.status = res.status(); e.ack = Number(res.headers()['upload-offset']) }
    })
  }
  watch(page)
  await page.goto(`${base}/visits/${visit}/upload`)
  await page.waitForSelector('#upload-form[data-ready]')
  await page.setInputFiles('#file', bigFile)
  const acked = (ph) => Math.max(0, ...patches.filter((x) => x.phase === ph && x.status === 204).map((x) => x.ack))
  await page.waitForFunction(() => document.querySelectorAll('#upload-queue progress').length === 1)
  // Pause after the first segment, then resume: it goes on from there.
  await waitFor(() => acked('first') >= segment, 60000, 'a segment committed before the pause')
  await page.click('#upload-0 button')
  phase = 'paused'
  await page.waitForFunction(() => /Paused at/.test((document.getElementById('upload-0-status')?.textContent ?? '')))
  await new Promise((resolve) => setTimeout(resolve, 300))
  const pausedAt = acked('first')
  check(patches.filter((x) => x.phase === 'paused').length === 0, 'a paused upload sends nothing')
  phase = 'after-pause'
  await page.click('#upload-0 button')
  await waitFor(() => patches.some((x) => x.phase === 'after-pause'), 30000, 'the upload resumes after the pause')
  const afterPause = patches.find((x) => x.phase === 'after-pause')
  check(afterPause.offset >= pausedAt, `after the pause the upload resumes at byte ${afterPause.offset}, not before the ${pausedAt} bytes already committed`)

  // Reload as soon as another segment is committed: the next is in flight.
  await waitFor(() => acked('after-pause') >= afterPause.offset + segment, 60000, 'a segment committed before the reload')
  const beforeReload = acked('after-pause')
  phase = 'after-reload'
  await page.reload()
  await page.waitForSelector('#upload-form[data-ready]')
  await page.setInputFiles('#file', bigFile)
  await waitFor(() => patches.some((x) => x.phase === 'after-reload'), 30000, 'the upload resumes after the reload')
  const resumed = patches.find((x) => x.phase === 'after-reload')
  check(resumed.offset >= beforeReload && resumed.offset % segment === 0,
    `after the reload the upload resumes at byte ${resumed.offset}, not before the ${beforeReload} bytes already committed`)

  await waitFor(() => acked('after-reload') >= resumed.offset + segment, 60000, 'a segment committed after the reload')
  const beforeRestart = acked('after-reload')
  phase = 'after-restart'
  const res = await fetch(control + '/restart', { method: 'POST' })
  check(res.ok, 'the portal restarted mid-upload')
  await audit(page, 'upload-in-progress')
  await page.waitForFunction(() => /Uploaded/.test((document.getElementById('upload-0-status')?.textContent ?? '')), null, { timeout: 120000 })
  await waitFor(() => acked('after-restart') === bigSize, 10000, 'the last PATCH answered with the full length')
  const afterRestart = patches.filter((x) => x.phase === 'after-restart' && x.status === 204)
  check(!(await page.locator('#upload-0 button').isVisible()), 'a finished upload offers no pause button')
  check(afterRestart.length > 0 && afterRestart[0].offset >= beforeRestart,
    `after the restart the upload resumes at byte ${afterRestart[0]?.offset}, not before the ${beforeRestart} bytes already committed`)
  check(afterRestart.length > 0 && afterRestart.at(-1).ack === bigSize, 'the 200 MiB upload completes')
  await audit(page, 'upload-big-done')
  await up.close()

  // --- Without JavaScript the plain form still uploads ------------------
  const plain = await browser.newContext({ javaScriptEnabled: false, bypassCSP: true })
  const pp = await signIn(plain, 'cafcass', 'uploader@cafcass.example', true)
  await pp.goto(`${base}/visits/${visit}/upload`)
  await pp.setInputFiles('#file', [
    { name: '1.02 Allocation policy.docx', mimeType: 'application/octet-stream', buffer: Buffer.from('allocation policy') },
    { name: '1.05 Self-evaluation.pdf', mimeType: 'application/pdf', buffer: Buffer.from('self-evaluation') }])
  await pp.click('#upload-submit')
  await pp.waitForURL(new RegExp(`/visits/${visit}\\?uploaded=2`))
  check((await pp.content()).includes('2 files uploaded.'), 'without JavaScript, the plain form uploads two files')
  check((await pp.locator('[id="item-1.05-status"]').innerText()).startsWith('Received'), 'the plain form files 1.05 Self-evaluation.pdf under item 1.05')
  // (axe needs JavaScript; this page's markup is checked with it on above.)
  await screenshot(pp, 'visit-after-plain-upload')
  await plain.close()

  // --- The lead inspector downloads a zip -------------------------------
  const lead = await browser.newContext({ acceptDownloads: true, bypassCSP: true })
  const lp = await signIn(lead, 'ofsted', 'lead@ofsted.example')
  await audit(lp, 'visits-lead')
  await lp.click(`a[href="/visits/${visit}"]`)
  await audit(lp, 'visit-lead')
  const boxes = lp.locator('input[name=file][type=checkbox]')
  const n = await boxes.count()
  check(n >= 6, `the lead sees the uploaded files (${n})`)
  for (let i = 0; i < n; i++) await boxes.nth(i).check()
  const [download] = await Promise.all([lp.waitForEvent('download'), lp.getByRole('button', { name: 'Download selected files as a zip' }).click()])
  await download.saveAs(join(artifacts, 'evidence.zip'))
  check(download.suggestedFilename().endsWith('.zip'), 'the download is a zip')
  await lp.goto(`${base}/visits/${visit}/request`)
  await audit(lp, 'request-edit')
  await lp.fill('#case-title', 'Case 4471 (named child)')
  await follow(lp, lp.locator('text=Add case file request'))
  check((await lp.content()).includes('Case 4471 (named child)'), 'the lead adds a case file request')
  await lp.goto(`${base}/visits/${visit}/audit`)
  await audit(lp, 'audit')
  await lp.goto(`${base}/visits/${visit}/files/no-such-file`)
  await audit(lp, 'error-404')
  // "Your notifications": the lead switches the hourly "Files received"
  // summary off.
  await lp.goto(`${base}/visits`)
  check(await lp.locator('nav a[href="/notifications"]').count() === 1, 'the menu links to "Your notifications"')
  await lp.goto(`${base}/notifications`)
  await audit(lp, 'notifications')
  check(await lp.isChecked('#on-files_arrived'), 'summaries are on until switched off')
  await lp.uncheck('#on-files_arrived')
  await lp.getByRole('button', { name: 'Save your notifications' }).click()
  await audit(lp, 'notifications-saved')
  check((await lp.content()).includes('Your notifications are saved'), 'the notifications page confirms the change')
  check(!(await lp.isChecked('#on-files_arrived')) && await lp.isChecked('#on-cases_named'), 'only the summary unticked is off')
  await lead.close()

  // --- The administrator's pages ----------------------------------------
  const admin = await browser.newContext({ bypassCSP: true })
  const ap = await signIn(admin, 'ofsted', 'admin@ofsted.example')
  await audit(ap, 'visits-admin')
  await ap.goto(`${base}/visits/${visit}/members`)
  await audit(ap, 'members')
  await ap.goto(`${base}/visits/${visit}/explain?member=&action=file.download`)
  await audit(ap, 'explain')
  await ap.goto(`${base}/visits/${visit}/upload`)
  await audit(ap, 'error-403')
  await admin.close()
} catch (err) {
  failures.push(String(err && err.stack || err))
  console.error(err)
} finally {
  await browser.close()
}

finish('browser journey')
