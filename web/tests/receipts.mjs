// Signed receipts and questions across the two organisations, run by
// TestBrowserReceiptsAndQuestions (web/browser_receipts_test.go) against a
// real stack in Debian's Chromium. The new pages are checked with axe-core
// (WCAG 2.2 AA, zero violations) and at 320 CSS px wide.
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { env, base, artifacts, check, audit, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')

// narrow checks that a page reflows at 320 CSS px: no horizontal scroll.
async function narrow (page, name) {
  await page.waitForLoadState('load') // its stylesheets applied
  const size = page.viewportSize()
  await page.setViewportSize({ width: 320, height: 800 })
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)
  check(fits, `${name} has no horizontal scroll at 320 px`)
  await page.setViewportSize(size)
}

const browser = await launch()
try {
  // --- The uploader sends a batch and downloads its receipt --------------
  const up = await browser.newContext({ acceptDownloads: true, bypassCSP: true })
  const page = await signIn(up, 'cafcass', 'uploader@cafcass.example')
  await page.goto(`${base}/visits/${visit}/upload`)
  await page.waitForSelector('#upload-form[data-ready]')
  // The second file's check for a file of the same name answers late, so
  // the first has uploaded while the second is still being checked: the
  // batch is not over until both are.
  let delayed = 0
  await page.route((u) => u.pathname.endsWith('/file-names'), async (r) => {
    if ((r.request().postDataJSON()?.name ?? '').startsWith('1.02')) {
      delayed++
      await new Promise((resolve) => setTimeout(resolve, 3000))
    }
    await r.continue()
  })
  await page.setInputFiles('#file', [
    { name: '1.01 Structure chart.pdf', mimeType: 'application/pdf', buffer: Buffer.from('structure chart') },
    { name: '1.02 Allocation policy.docx', mimeType: 'application/octet-stream', buffer: Buffer.from('allocation policy') }
  ])
  await page.waitForSelector('#batch-receipts a[download]', { timeout: 60000 })
  await page.waitForFunction(() => [...document.querySelectorAll('.portal-queue__status')].every((s) => s.textContent.startsWith('Uploaded')), null, { timeout: 60000 })
  const made = await page.locator('#batch-receipts li').allInnerTexts()
  check(delayed === 1, `the second file's check for its name was held back (${delayed} held)`)
  check(made.length === 1 && made[0].startsWith('Receipt for 2 files'), `the batch gets one receipt for its two files (${JSON.stringify(made)})`)
  await audit(page, 'upload-receipt')
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#batch-receipts a[download]')])
  await download.saveAs(join(artifacts, 'receipt.json'))
  const signed = JSON.parse(readFileSync(join(artifacts, 'receipt.json'), 'utf8'))
  check(signed.signature && signed.receipt.kind === 'batch' && signed.receipt.files.length === 2, 'the downloaded receipt is the signed batch receipt')
  await page.click('#batch-receipts a:not([download])')
  await page.waitForSelector('#receipt-files')
  check((await page.locator('#receipt-files').innerText()).includes('1.02 Allocation policy.docx'), 'the receipt to print lists the files')
  await audit(page, 'receipt')
  await narrow(page, 'the receipt page')
  await page.goto(`${base}/visits/${visit}`)
  check(await page.locator('#receipts-table tbody tr').count() === 3, 'the visit page lists the two uploads\' receipts and the batch\'s')
  await audit(page, 'visit-receipts')

  // --- Cafcass asks, Ofsted answers ---------------------------------------
  const coord = await browser.newContext({ bypassCSP: true })
  const cp = await signIn(coord, 'cafcass', 'coordinator@cafcass.example')
  await cp.goto(`${base}/visits/${visit}`)
  await cp.click('#questions-all')
  // Too long: the page again, as typed, with the error at the top.
  const tooLong = 'Do you want the monthly reports? '.repeat(70)
  await cp.selectOption('#ask-item', '1.03')
  await cp.fill('#ask-text', tooLong)
  await cp.click('#ask-button')
  await cp.waitForSelector('.govuk-error-summary')
  check((await cp.title()).startsWith('Error: ') && await cp.inputValue('#ask-text') === tooLong && await cp.inputValue('#ask-item') === '1.03',
    'a question too long is shown again as typed, the title saying there is an error')
  await audit(cp, 'questions-ask-error')
  await narrow(cp, 'the refused question')
  await cp.fill('#ask-text', 'Do you want the monthly reports for the last quarter or the last year?')
  await cp.click('#ask-button')
  await cp.waitForURL(/questions\?item=1\.03/)
  await audit(cp, 'questions-asked')
  await narrow(cp, 'the questions page')

  const hmiContext = await browser.newContext({ bypassCSP: true })
  const hp = await signIn(hmiContext, 'ofsted', 'hmi@ofsted.example')
  await hp.goto(`${base}/visits/${visit}`)
  check(await hp.locator('#questions-awaiting').count() === 1, 'the inspector\'s visit page shows the question waiting for the team')
  await hp.click('.portal-questions a')
  await hp.waitForURL(/questions\?item=1\.03/)
  await hp.locator('textarea[id^="reply-"]').fill('The last quarter is enough.')
  await hp.getByRole('button', { name: 'Post to this question' }).click()
  await hp.waitForSelector('text=The last quarter is enough.')
  await hp.click('button[id^="answered-"]')
  await hp.waitForSelector('.portal-thread .govuk-tag--green')
  await audit(hp, 'questions-answered')
  await narrow(hp, 'the answered question')

  await cp.goto(`${base}/visits/${visit}`)
  check(await cp.locator('#questions-asked').count() === 0 && await cp.locator('#questions-none').count() === 1,
    'once answered, nothing is open for the coordinator')
  await cp.goto(`${base}/visits/${visit}/questions?item=1.03`)
  check((await cp.locator('.portal-thread').innerText()).includes('The last quarter is enough.'), 'the coordinator reads the inspector\'s answer')
} catch (err) {
  check(false, 'the script ran to the end: ' + (err.stack || err))
} finally {
  await browser.close()
}
finish('receipts and questions')
