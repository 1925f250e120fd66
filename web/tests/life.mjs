// The visit's life through its pages, in Chromium: letter events to
// publication (a date that is not real is shown in place with what was
// typed; a publication while a complaint is open is refused in words), a
// legal hold set and lifted, the audit trail in words, a destruction
// approved and the record page of the destroyed visit. Each new page is
// checked with axe-core, saved as a screenshot, and must not scroll
// sideways at 320 CSS pixels.
import { env, base, check, audit, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')
const control = env('CONTROL_URL')
const fileName = env('FILE_NAME')
const end = new Date(env('FIELDWORK_END') + 'T12:00:00Z')
const publishAfter = Number(env('PUBLISH_AFTER'))
const after = (days) => { const d = new Date(end); d.setUTCDate(d.getUTCDate() + days); return d }
const longDate = (d) => d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' })

// narrow checks that the page does not scroll sideways at 320 CSS pixels.
// A page reached by a click may not have its stylesheets yet: laid out
// without them, a page measured thousands of pixels wide.
async function narrow (page, name) {
  await page.waitForLoadState('load')
  await page.setViewportSize({ width: 320, height: 800 })
  const [doc, view] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])
  check(doc <= view, `${name} at 320 px has no horizontal scroll (document ${doc} px, viewport ${view} px)`)
  await page.setViewportSize({ width: 1280, height: 900 })
}

// narrowPart checks that a part of a page fits 320 CSS pixels (the rest
// of the page is not this script's).
async function narrowPart (page, selector, name) {
  await page.waitForLoadState('load')
  await page.setViewportSize({ width: 320, height: 800 })
  const width = await page.locator(selector).evaluate((e) => Math.max(e.scrollWidth, e.getBoundingClientRect().right))
  check(width <= 320, `${name} fits 320 px (${width} px)`)
  await page.setViewportSize({ width: 1280, height: 900 })
}

// recordEvent fills in the letter event form on the visit page.
async function recordEvent (page, event, date) {
  await page.goto(`${base}/visits/${visit}#life`)
  await page.locator(`input[name=event][value=${event}]`).check()
  await page.fill('#event_date-day', String(date.getUTCDate()))
  await page.fill('#event_date-month', String(date.getUTCMonth() + 1))
  await page.fill('#event_date-year', String(date.getUTCFullYear()))
  await page.getByRole('button', { name: 'Record letter event' }).click()
  await page.waitForLoadState('load')
}

const banner = async (page) => (await page.locator('.govuk-notification-banner--success').textContent().catch(() => '')) || ''
const summary = async (page) => (await page.locator('.govuk-error-summary').textContent().catch(() => '')) || ''

const browser = await launch()
try {
  const lead = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } })
  const admin = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } })
  const second = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 900 } })
  const lp = await signIn(lead, 'ofsted', 'lead@ofsted.example')
  const ap = await signIn(admin, 'ofsted', 'admin@ofsted.example')
  // A second administrator, who approves the destruction the first let go
  // on by lifting the hold.
  const sp = await signIn(second, 'ofsted', 'outsider@ofsted.example')
  const moved = await fetch(control + '/clock', { method: 'POST' })
  check(moved.status === 200, 'six weeks pass: fieldwork and the complaint window are over')
  // The portal's day in London when the weeks passed, as YYYY-MM-DD: the
  // letter events are recorded on it or after it, even across midnight.
  const portalDay = new Date((await moved.text()) + 'T12:00:00Z')

  // The lead inspector's visit page offers the letter events.
  await lp.goto(`${base}/visits/${visit}`)
  check(await lp.locator('#event-form').count() === 1, 'the lead inspector is offered the letter event form')
  check(await lp.locator('#hold-form').count() === 0, 'the lead inspector is not offered the legal hold')
  await audit(lp, 'life-visit-lead')
  await narrowPart(lp, '#event-form', 'the letter event form')

  // A date that is not real: shown in place, with what was typed.
  await lp.locator('input[name=event][value=draft_sent]').check()
  await lp.fill('#event_date-day', '31')
  await lp.fill('#event_date-month', '2')
  await lp.fill('#event_date-year', String(end.getUTCFullYear()))
  await lp.getByRole('button', { name: 'Record letter event' }).click()
  await lp.waitForLoadState('load')
  check((await summary(lp)).includes('The date of the event must be a real date'), 'a date that is not real is in the error summary')
  check(await lp.locator('#event_date-error').count() === 1, 'the message is by the date field')
  check(await lp.inputValue('#event_date-day') === '31' && await lp.isChecked('input[name=event][value=draft_sent]'), 'what was typed is kept')
  check((await lp.title()).startsWith('Error: '), 'the title says there is an error')
  await audit(lp, 'life-event-error')
  await narrowPart(lp, '#event-form', 'the letter event form with an error')
  await narrowPart(lp, '#error-summary', 'the error summary')

  // "Download selected" with nothing chosen explains itself on the page.
  await lp.goto(`${base}/visits/${visit}#files`)
  await lp.getByRole('button', { name: 'Download selected files as a zip' }).click()
  await lp.waitForLoadState('load')
  const nothing = await summary(lp)
  check(nothing.includes('Select at least one file to download') && !(await lp.content()).includes('"code"'), 'downloading nothing chosen is explained on the page, not in JSON')
  await audit(lp, 'life-download-nothing')

  await recordEvent(lp, 'draft_sent', after(1))
  check((await banner(lp)).includes('Draft letter sent to the provider: recorded on ' + longDate(after(1))), 'the draft letter is recorded, and the page says so')
  await recordEvent(lp, 'final_sent', after(2))
  await recordEvent(ap, 'complaint_received', after(3))
  check((await banner(ap)).includes('Complaint received'), 'an administrator records the complaint')
  await recordEvent(lp, 'published', after(4))
  const refused = await summary(lp)
  check(/complaint/i.test(refused) && !refused.includes('{'), `publication while a complaint is open is refused in words: ${refused.trim()}`)
  await audit(lp, 'life-complaint-refused')
  await recordEvent(lp, 'complaint_resolved', after(4))
  await recordEvent(lp, 'published', after(publishAfter))
  check((await banner(lp)).includes('Letter published: recorded on'), 'the letter is published')
  check((await lp.locator('.govuk-summary-list .govuk-tag').first().textContent()).includes('Published'), 'the visit is published')

  // The legal hold: the reason is required; set, then lifted.
  await ap.goto(`${base}/visits/${visit}#legal-hold`)
  await ap.getByRole('button', { name: 'Set a legal hold' }).click()
  await ap.waitForLoadState('load')
  check((await summary(ap)).includes('Give the reason'), 'a legal hold without a reason is refused in place')
  await ap.fill('#hold_reason', 'Complaint escalated to the courts')
  await ap.getByRole('button', { name: 'Set a legal hold' }).click()
  await ap.waitForLoadState('load')
  check((await banner(ap)).includes('The legal hold is set'), 'the legal hold is set')
  check((await ap.locator('#legal-hold-state').textContent()).includes('A legal hold is set'), 'the page says the hold is set')
  await audit(ap, 'life-legal-hold-set')
  await narrow(ap, 'the visit page with the legal hold')
  await ap.fill('#hold_reason', 'The court has ruled')
  await ap.getByRole('button', { name: 'Lift the legal hold' }).click()
  await ap.waitForLoadState('load')
  check((await banner(ap)).includes('The legal hold is lifted'), 'the legal hold is lifted')

  // The audit trail in words, filtered by kind of act and date.
  await lp.goto(`${base}/visits/${visit}/audit`)
  const trail = await lp.locator('#audit-records').textContent()
  check(trail.includes('downloaded ' + fileName), 'the trail says who downloaded which file, by its name')
  check(trail.includes('recorded: letter published') && trail.includes('set a legal hold'), 'letter events and holds are in words')
  check(!trail.includes('file.download') && !trail.includes('{"'), 'no codes or raw JSON in the trail')
  await audit(lp, 'life-audit')
  await narrow(lp, 'the audit page')
  // Every act since the weeks passed is on or after the portal's day then.
  const today = portalDay
  await lp.selectOption('#action', 'letter.')
  await lp.fill('#from-day', String(today.getUTCDate()))
  await lp.fill('#from-month', String(today.getUTCMonth() + 1))
  await lp.fill('#from-year', String(today.getUTCFullYear()))
  await lp.getByRole('button', { name: 'Filter' }).click()
  await lp.waitForLoadState('load')
  const filtered = await lp.locator('#audit-records').textContent()
  check(filtered.includes('recorded: letter published') && filtered.includes('recorded: draft letter sent') && !filtered.includes('set a legal hold'),
    'the trail filters by kind of act')
  check(await lp.inputValue('#from-day') === String(today.getUTCDate()) && await lp.inputValue('#action') === 'letter.', 'the filter keeps what was chosen')
  await lp.fill('#from-day', ''); await lp.fill('#from-month', ''); await lp.fill('#from-year', '')
  const before = new Date(portalDay.getTime() - 864e5)
  await lp.fill('#to-day', String(before.getUTCDate()))
  await lp.fill('#to-month', String(before.getUTCMonth() + 1))
  await lp.fill('#to-year', String(before.getUTCFullYear()))
  await lp.getByRole('button', { name: 'Filter' }).click()
  await lp.waitForLoadState('load')
  check((await lp.locator('#audit-records').textContent()).includes('No records match'), 'the trail filters by date')
  check((await lp.getAttribute('a:text("CSV")', 'href')).includes('action=letter.'), 'the CSV export keeps the codes')

  // Destruction: notice given, approved on the review page, carried out.
  let r = await fetch(control + '/sweep', { method: 'POST' })
  check(r.status === 204, 'the sweep gives notice')
  await ap.goto(`${base}/destruction`)
  check((await ap.locator('main').textContent()).includes('You lifted this visit’s legal hold') &&
    await ap.getByRole('button', { name: /Approve destruction/ }).count() === 0,
    'the administrator who lifted the hold is told another must approve, and offered no approval')
  await sp.goto(`${base}/destruction`)
  await audit(sp, 'life-destruction-review')
  await narrow(sp, 'the destruction review')
  await sp.getByRole('button', { name: /Approve destruction/ }).click()
  await sp.waitForLoadState('load')
  check((await banner(sp)).includes('The destruction of FV-LIFE-2 is approved'), 'the destruction is approved by a second administrator')
  r = await fetch(control + '/sweep', { method: 'POST' })
  check(r.status === 204, 'the sweep destroys the visit')

  // The record page of the destroyed visit.
  await ap.goto(`${base}/visits/${visit}`)
  const rec = await ap.locator('main').textContent()
  check(rec.includes('record of a destroyed visit') && rec.includes('Letter published on') && rec.includes('lead@ofsted.example'),
    'the destroyed visit keeps its record: events and team')
  check(rec.includes('portal certificate verify') && !rec.includes(fileName), 'the record says how to verify the certificate and names no file')
  const [download] = await Promise.all([ap.waitForEvent('download'), ap.click('#certificate-download')])
  check(download.suggestedFilename() === 'destruction-FV-LIFE-2.json', 'the certificate downloads')
  await audit(ap, 'life-record')
  await narrow(ap, 'the record page')
  await ap.click('text=see the audit trail of FV-LIFE-2')
  check((await ap.locator('#audit-records').textContent()).includes('issued the destruction certificate'), 'the destroyed visit’s audit trail is in words')
  await narrow(ap, 'the audit page of a destroyed visit')
  const gone = await lp.goto(`${base}/visits/${visit}`)
  check(gone.status() === 410, 'a member gets 410 for the destroyed visit')
} finally {
  await browser.close()
}
finish('life')
