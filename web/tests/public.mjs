// Finding files, viewing them, the timeout warning and the support pages,
// run by web/browser_public_test.go in Debian's Chromium against a real
// stack holding 300 seeded files (and a second stack with a short idle
// timeout for the warning). Every page is checked with axe-core and for
// reflow at 320 px (lib.mjs audit), with a screenshot.
import { env, base, check, audit, signIn, launch, follow, finish } from './lib.mjs'

const visit = env('VISIT_ID')
const pdf = env('PDF_ID')
const png = env('PNG_ID')
const seeded = Number(env('SEEDED'))
const total = Number(env('TOTAL'))
const timeoutBase = env('TIMEOUT_URL')
const timeoutVisit = env('TIMEOUT_VISIT_ID')
const files = `${base}/api/v1/visits/${visit}/files`

const countText = (p) => p.locator('#file-count').innerText()
const names = (p) => p.locator('td.portal-file-name > a[download]').allInnerTexts()

const browser = await launch()
try {
  // The support pages, from the footer, signed out.
  const anon = await browser.newContext({ bypassCSP: true })
  const p = await anon.newPage()
  const pages = { Help: 'Help', Contact: 'Contact', 'Accessibility statement': 'Accessibility statement', 'Privacy notice': 'Privacy notice', Cookies: 'Cookies' }
  for (const [link, heading] of Object.entries(pages)) {
    await p.goto(base + '/')
    await p.getByRole('contentinfo').getByRole('link', { name: link, exact: true }).click()
    const h1 = await p.locator('h1').innerText()
    check(h1.startsWith(heading), `the footer's "${link}" opens its page signed out (${h1})`)
    await audit(p, 'footer-' + link.toLowerCase().replace(/ /g, '-'))
  }
  await p.goto(base + '/privacy')
  check(await p.locator('#privacy-controller').innerText() === 'Ofsted (demo)' && await p.locator('#privacy-contact').innerText() === 'dpo@ofsted.example' &&
    !(await p.locator('#privacy-incomplete').count()), 'the privacy notice shows the configured controller and contact')
  await p.goto(base + '/cookies')
  const cookies = await p.locator('main').innerText()
  check(cookies.includes('portal_session') && cookies.includes('portal_signin'), 'the cookies page names the session and sign-in cookies')
  await p.goto(base + '/contact')
  check(await p.locator('#contact-email').innerText() === 'evidence-portal-help@ofsted.example', 'the contact page shows the configured address')

  // Finding files: 50 a page, with counts, natural order, search, filters.
  const lc = await browser.newContext({ bypassCSP: true })
  const lp = await signIn(lc, 'ofsted', 'lead@ofsted.example')
  await lp.goto(`${base}/visits/${visit}`)
  check(await countText(lp) === `Showing 1 to 50 of ${total} files`, `the first page counts its files (${await countText(lp)})`)
  const first = await names(lp)
  check(first.length === 50 && first[0] === '1.01 Chart.png' && first.indexOf('1.01 Seeded 5.pdf') < first.indexOf('1.01 Seeded 10.pdf'),
    `names sort naturally (${first.slice(0, 4).join(', ')})`)
  await audit(lp, 'visit-300-files')
  await lp.setViewportSize({ width: 320, height: 800 })
  await lp.locator('#file-count').scrollIntoViewIfNeeded()
  await lp.screenshot({ path: `${env('ARTIFACTS')}/visit-files-at-320px.png` })
  await lp.setViewportSize({ width: 1280, height: 720 })
  await follow(lp, lp.getByRole('link', { name: 'Next page of files' }))
  check(await countText(lp) === `Showing 51 to 100 of ${total} files`, `the second page (${await countText(lp)})`)
  await audit(lp, 'visit-files-page-2')
  await follow(lp, lp.getByRole('link', { name: 'Previous page of files' }))
  check(await countText(lp) === `Showing 1 to 50 of ${total} files`, 'back to the first page')

  await lp.fill('#file-search', 'seeded 12')
  await lp.selectOption('#file-item', '1.03')
  await lp.selectOption('#file-sort', 'newest')
  await follow(lp, lp.getByRole('button', { name: 'Find files' }))
  const found = await names(lp)
  const want = []
  for (let i = seeded - 1; i >= 0; i--) if (i % 5 === 2 && String(i).startsWith('12')) want.push(`1.03 Seeded ${i}.pdf`)
  check(JSON.stringify(found) === JSON.stringify(want), `search, item and newest first: ${found.join(', ')}`)
  check(await countText(lp) === `Showing 1 to ${want.length} of ${want.length} files that match your search and filters`, `the count says what matched (${await countText(lp)})`)
  check(await lp.inputValue('#file-search') === 'seeded 12' && await lp.inputValue('#file-item') === '1.03', 'the form keeps the search and filters')
  await audit(lp, 'visit-files-found')

  await follow(lp, lp.getByRole('link', { name: 'Clear search and filters' }))
  await lp.selectOption('#file-uploader', { label: 'coordinator@cafcass.example' })
  await follow(lp, lp.getByRole('button', { name: 'Find files' }))
  check(JSON.stringify(await names(lp)) === JSON.stringify(['1.01 Chart.png', '1.01 Structure.pdf']), `filter by uploader: ${await names(lp)}`)
  // The London day the first seeded file was uploaded on: every file is on
  // it or after it, even when the test runs across midnight.
  const today = env('FIRST_DAY')
  await lp.goto(`${base}/visits/${visit}?from=2001-01-01&to=2001-12-31`)
  check((await lp.locator('main').innerText()).includes('No file matches your search and filters.'), 'a day range with no uploads finds nothing')
  await lp.goto(`${base}/visits/${visit}?from=${today}&item=1.01&sort=name-desc`)
  const za = await names(lp)
  const zaCount = await lp.locator('#file-count').innerText()
  check(za[0] === '1.01 Structure.pdf' && za[1] === `1.01 Seeded ${seeded - 5}.pdf`, `from today, item 1.01, Z to A: ${za.slice(0, 2)}`)
  // The days are GOV.UK date inputs (day, month, year), kept as typed.
  await lp.goto(`${base}/visits/${visit}`)
  const [y, m, d] = today.split('-')
  await lp.fill('#from-day', String(Number(d)))
  await lp.fill('#from-month', String(Number(m)))
  await lp.fill('#from-year', y)
  await lp.selectOption('#file-item', '1.01')
  await follow(lp, lp.getByRole('button', { name: 'Find files' }))
  const azCount = await lp.locator('#file-count').innerText()
  check(azCount === zaCount, `from today in the date input, item 1.01: "${azCount}", as from the address: "${zaCount}"`)
  check(await lp.inputValue('#from-year') === y, 'the date input keeps the day asked for')
  await lp.fill('#from-day', '30')
  await lp.fill('#from-month', '2')
  await follow(lp, lp.getByRole('button', { name: 'Find files' }))
  check(await lp.locator('#from-error').count() === 1 && await lp.inputValue('#from-day') === '30', 'a date that does not exist is reported by its field, as typed')
  await audit(lp, 'visit-files-bad-date')

  // The same without JavaScript: a plain GET form.
  const plain = await browser.newContext({ javaScriptEnabled: false, bypassCSP: true })
  const pp = await signIn(plain, 'ofsted', 'lead@ofsted.example')
  await pp.goto(`${base}/visits/${visit}`)
  await pp.fill('#file-search', 'structure')
  await follow(pp, pp.getByRole('button', { name: 'Find files' }))
  check(JSON.stringify(await names(pp)) === JSON.stringify(['1.01 Structure.pdf']) && pp.url().includes('q=structure'), 'search works without JavaScript')

  // Viewing: a PDF's headers, and an image rendered under its sandbox.
  const r = await lp.request.get(`${files}/${pdf}/content?disposition=inline`)
  const h = r.headers()
  check(r.status() === 200 && h['content-type'] === 'application/pdf' && h['content-disposition'].startsWith('inline;') &&
    h['x-content-type-options'] === 'nosniff' && !h['content-security-policy'].includes('sandbox'), `an inline PDF's headers: ${JSON.stringify(h)}`)
  const a = await lp.request.get(`${files}/${pdf}/content`)
  check(a.headers()['content-disposition'].startsWith('attachment;'), 'a download is an attachment unless inline is asked for')
  const strict = await browser.newContext() // the portal's own CSP applies
  const sp = await signIn(strict, 'ofsted', 'lead@ofsted.example')
  await sp.goto(`${base}/visits/${visit}?q=chart`)
  const view = sp.locator(`#file-${png}`).getByRole('link', { name: 'View 1.01 Chart.png' })
  check(await view.count() === 1, 'a viewable file has a View link')
  const [resp] = await Promise.all([sp.waitForResponse((x) => x.url().includes(png)), view.click()])
  await sp.waitForLoadState('load')
  const size = await sp.evaluate(() => document.images.length ? [document.images[0].naturalWidth, document.images[0].naturalHeight] : [0, 0])
  check(resp.headers()['content-type'] === 'image/png' && resp.headers()['content-security-policy'].includes('sandbox') && size[0] === 40 && size[1] === 20,
    `the image is shown inline, sandboxed (${size})`)
  await sp.screenshot({ path: `${env('ARTIFACTS')}/inline-image.png` })

  // The warning before the session ends (idle timeout of a few seconds).
  const tc = await browser.newContext({ bypassCSP: true })
  const tp = await signIn(tc, 'ofsted', 'lead@ofsted.example', timeoutBase)
  const idle = Number(await tp.getAttribute('body', 'data-idle-timeout')) * 1000
  await tp.goto(`${timeoutBase}/visits/${timeoutVisit}/request`)
  // The session's deadline, unless extended, is at most the idle timeout
  // after this page's answer (the last request the person made).
  const lastRequest = Date.now()
  await tp.locator('#case-title').fill('Half-typed title')
  await tp.locator('#case-title').focus()
  const dialog = tp.locator('#timeout-dialog')
  await dialog.waitFor({ state: 'visible', timeout: idle })
  check(await tp.evaluate(() => document.activeElement.id) === 'timeout-heading', 'the warning takes focus')
  check((await dialog.innerText()).includes('we will sign you out in'), 'the warning says when')
  await audit(tp, 'timeout-warning')
  await tp.getByRole('button', { name: 'Stay signed in' }).click()
  await dialog.waitFor({ state: 'hidden' })
  check(await tp.evaluate(() => document.activeElement.id) === 'case-title' && await tp.inputValue('#case-title') === 'Half-typed title',
    'staying signed in returns focus to the form, with what was typed')
  await tp.waitForTimeout(Math.max(0, lastRequest + idle + 1000 - Date.now()))
  const me = await tp.evaluate(async () => (await fetch('/api/v1/me')).status)
  check(me === 200, `still signed in after the first idle timeout ran out (${me})`)
  await dialog.waitFor({ state: 'visible', timeout: idle })
  await tp.waitForURL((u) => u.href.startsWith(timeoutBase) && u.pathname === '/', { timeout: idle + 5000 })
  const after = await tp.evaluate(async () => (await fetch('/api/v1/me')).status)
  check(after === 401, `when the time runs out the page signs out (${after})`)
} catch (e) {
  check(false, 'the script ran to its end: ' + (e.stack || e))
} finally {
  await browser.close()
}
finish('public pages')
