// Correcting mistakes in a real browser: the upload page's warnings before
// sending (a system file skipped, an empty file and a taken name held for
// a choice), replacing a file from the visit page, and the coordinator
// marking an item complete; axe-core on each page, and each at 320 px.
import { env, base, check, audit, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')

// fits checks the page has no horizontal scroll at 320 CSS px.
async function fits (page, name) {
  await page.waitForLoadState('load') // its stylesheets applied
  const size = page.viewportSize()
  await page.setViewportSize({ width: 320, height: 800 })
  const ok = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)
  const wide = ok ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 8).map((e) => e.tagName + '.' + e.className + '#' + e.id))
  check(ok, `${name} fits 320 px with no horizontal scroll` + (ok ? '' : ': ' + wide.join(', ')))
  await page.setViewportSize(size)
}

async function drop (page, files) {
  const dt = await page.evaluateHandle((files) => {
    const d = new DataTransfer()
    for (const f of files) d.items.add(new File([f.body], f.name, { type: 'application/octet-stream' }))
    return d
  }, files)
  await page.dispatchEvent('#drop-zone', 'dragover', { dataTransfer: dt })
  await page.dispatchEvent('#drop-zone', 'drop', { dataTransfer: dt })
}

// ownFits checks, at 320 CSS px, the elements of this feature (selector):
// with whole, that they end inside the viewport; otherwise (controls inside
// the visit page's files table, which is reflowed separately) that they
// need no more than the width a 320 px page gives its content.
async function ownFits (page, name, selector, whole) {
  await page.waitForLoadState('load') // its stylesheets applied
  const size = page.viewportSize()
  await page.setViewportSize({ width: 320, height: 800 })
  const bad = await page.evaluate(([sel, whole]) => [...document.querySelectorAll(sel)].filter((e) => {
    if (whole) return e.getBoundingClientRect().right > window.innerWidth
    const was = e.style.width
    e.style.width = (window.innerWidth - 30) + 'px'
    const over = e.scrollWidth > e.clientWidth
    if (over) {
      const right = e.getBoundingClientRect().right
      e.dataset.over = [...e.querySelectorAll('*')].filter((c) => c.getBoundingClientRect().right > right)
        .map((c) => c.tagName + '.' + c.className + ':' + Math.round(c.getBoundingClientRect().width)).slice(0, 4).join(' ')
    }
    e.style.width = was
    return over
  }).map((e) => e.tagName + '#' + e.id + ' ' + (e.dataset.over || '')), [selector, whole])
  check(bad.length === 0, `${name} fits 320 px` + (bad.length ? ': ' + bad.join(', ') : ''))
  await page.setViewportSize(size)
}

const statusOf = (page, i) => page.locator(`#upload-${i}-status`).innerText()

const browser = await launch()
try {
  // --- The uploader: warnings before sending -----------------------------
  const up = await browser.newContext({ bypassCSP: true })
  const page = await signIn(up, 'cafcass', 'uploader@cafcass.example')
  await page.goto(`${base}/visits/${visit}/upload`)
  await page.waitForSelector('#upload-form[data-ready]')
  await drop(page, [
    { name: '1.03 MI report.pdf', body: 'the first report' },
    { name: 'Thumbs.db', body: 'thumbnails' },
    { name: '1.03 blank.pdf', body: '' },
    { name: '~$report.docx', body: 'lock' }
  ])
  await page.waitForFunction(() => (document.getElementById('upload-0-status')?.textContent ?? '').startsWith('Uploaded'), null, { timeout: 30000 })
  check((await statusOf(page, 1)).startsWith('Skipped'), 'Thumbs.db is skipped with a note')
  check((await statusOf(page, 3)).startsWith('Skipped'), 'an Office lock file (~$…) is skipped with a note')
  check((await statusOf(page, 2)).includes('empty'), 'an empty file is held with a warning')
  await audit(page, 'upload-warnings')
  await fits(page, 'the upload page with warnings')
  await page.getByRole('button', { name: 'Do not upload it: 1.03 blank.pdf' }).click()
  check((await statusOf(page, 2)).includes('Not uploaded'), 'the empty file is not sent when the person says so')

  // The same name again: held, then replaced.
  await drop(page, [{ name: '1.03 MI report.pdf', body: 'the corrected report' }])
  await page.waitForFunction(() => (document.getElementById('upload-4-status')?.textContent ?? '').includes('already'), null, { timeout: 30000 })
  check((await statusOf(page, 4)).includes('already filed under item 1.03'), 'a name already in the item is warned of before sending')
  await audit(page, 'upload-name-taken')
  await page.getByRole('button', { name: 'Replace it: 1.03 MI report.pdf' }).click()
  await page.waitForFunction(() => (document.getElementById('upload-4-status')?.textContent ?? '').startsWith('Uploaded'), null, { timeout: 30000 })
  check((await statusOf(page, 4)).includes('replaces the earlier version'), 'the file is uploaded as a new version')

  // --- The visit page: replace a file with the "Replace" control ---------
  await page.goto(`${base}/visits/${visit}#files`)
  const correct = page.locator('tr', { hasText: '1.03 MI report.pdf' }).locator('details.portal-correct')
  await correct.locator('summary').click()
  await audit(page, 'visit-correct-open')
  await ownFits(page, 'the correction controls on the visit page', 'details.portal-correct', false)
  await correct.locator('input[type=file]').setInputFiles({ name: 'anything.pdf', mimeType: 'application/pdf', buffer: Buffer.from('the third version') })
  await correct.locator('button[form^="replace-"]').click()
  await page.waitForURL(/corrected=replaced/)
  check((await page.locator('.govuk-notification-banner').innerText()).includes('new version was uploaded'), 'the visit page says the new version was uploaded')
  await up.close()

  // --- The coordinator marks the item complete ----------------------------
  const co = await browser.newContext({ bypassCSP: true })
  const cpage = await signIn(co, 'cafcass', 'coordinator@cafcass.example')
  await cpage.goto(`${base}/visits/${visit}#complete-items`)
  await cpage.click('[id="complete-1.03"]')
  await cpage.waitForURL(/completed=1.03/)
  check((await cpage.locator('[id="item-1.03-status"]').innerText()).includes('Complete'), 'the information request shows item 1.03 complete')
  check(await cpage.locator('[id="reopen-1.03"]').count() === 1, 'a complete item can be reopened')
  await audit(cpage, 'visit-item-complete')
  await ownFits(cpage, 'the items to complete on the visit page', '#completion, #complete-items', true)
  await co.close()

  // --- The lead sees the earlier versions on request ----------------------
  const le = await browser.newContext({ bypassCSP: true })
  const lpage = await signIn(le, 'ofsted', 'lead@ofsted.example')
  await lpage.goto(`${base}/visits/${visit}?versions=1#files`)
  check(await lpage.locator('.portal-superseded').count() === 2, 'the team sees the two earlier versions, marked superseded, on request')
  await lpage.goto(`${base}/visits/${visit}#files`)
  check(await lpage.locator('.portal-superseded').count() === 0, 'earlier versions are hidden unless asked for')
  await audit(lpage, 'visit-lead')
  await le.close()

  // --- Without JavaScript: several files, two refused, on the plain form --
  const plain = await browser.newContext({ javaScriptEnabled: false, bypassCSP: true })
  const pp = await signIn(plain, 'cafcass', 'uploader@cafcass.example')
  await pp.goto(`${base}/visits/${visit}/upload`)
  await pp.setInputFiles('#file', [
    { name: '1.02 ' + 'x'.repeat(291) + '.pdf', mimeType: 'application/pdf', buffer: Buffer.from('a name of 300 characters') },
    { name: '1.02 Plain form.pdf', mimeType: 'application/pdf', buffer: Buffer.from('fine') },
    { name: '1.02 Right\u202Efdp.exe', mimeType: 'application/pdf', buffer: Buffer.from('a text-direction override') }
  ])
  await pp.click('#upload-submit')
  await pp.waitForSelector('.govuk-error-summary')
  const summary = await pp.locator('.govuk-error-summary__list').innerText()
  check((await pp.title()).startsWith('Error: ') && summary.includes('“1.02 xxx') && summary.includes('was not uploaded') &&
    !summary.includes('\u202E') && (await pp.locator('.govuk-notification-banner').innerText()).includes('1 file uploaded'),
  'the plain form names each refused file (no override shown) and uploads the one between them: ' + JSON.stringify(summary))
  // axe needs script: the page as served, in a page that runs it.
  const html = await pp.content()
  const shown = await browser.newContext({ bypassCSP: true })
  const sp = await shown.newPage()
  await sp.goto(`${base}/help`)
  await sp.setContent(html, { waitUntil: 'load' })
  await audit(sp, 'upload-plain-refused')
  await fits(sp, 'the plain upload form with two files refused')
  await shown.close()
  await plain.close()
} finally {
  await browser.close()
}
finish('corrections')
