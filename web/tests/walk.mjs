// A whole visit walked as its people would, at 320 CSS px and at desktop
// width, checked for what axe-core does not check (WCAG 2.2 AA and the
// GOV.UK Design System's patterns): each page's title and its headings in
// order; every target at least 24 by 24 CSS px or spaced as 2.5.8 allows
// (links inside a sentence excepted); each control, reached by Tab, with
// a focus indicator and not hidden by anything (2.4.7, 2.4.11); no text
// cut off by a box too small for it at 320 px; buttons and links that
// do different things with different accessible names ("Delete" says
// what it deletes); an error summary that takes focus and whose links
// move it to their field; the upload's progress told to screen readers.
// The coordinator uploads, the lead inspector downloads, the
// administrator manages members and holds and checks destruction.
import { env, base, check, audit, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')

// inspect runs the checks of this script on the page at each width.
async function inspect (page, name) {
  await audit(page, name)
  for (const width of [320, 1280]) {
    await page.setViewportSize({ width, height: 800 })
    const at = `${name} at ${width} px`
    const r = await page.evaluate(pageChecks)
    check(r.title, `${at}: the title names the page and the service (${r.titleText})`)
    check(r.headings.length === 0, `${at}: one h1, and headings go down one level at a time` + (r.headings.length ? ': ' + r.headings.join('; ') : ''))
    check(r.small.length === 0, `${at}: every target is at least 24 by 24 CSS px, or spaced` + (r.small.length ? ': ' + r.small.join('; ') : ''))
    check(r.cut.length === 0, `${at}: no text is cut off` + (r.cut.length ? ': ' + r.cut.join('; ') : ''))
    check(r.names.length === 0, `${at}: controls that do different things have different names` + (r.names.length ? ': ' + r.names.join('; ') : ''))
    const f = await focusWalk(page)
    check(f.length === 0, `${at}: every control reached by Tab shows its focus, not hidden` + (f.length ? ': ' + f.join('; ') : ''))
  }
  await page.setViewportSize({ width: 1280, height: 800 })
}

// pageChecks runs in the page.
function pageChecks () {
  // checkVisibility: also hidden inside a closed <details>.
  const visible = (e) => { const r = e.getBoundingClientRect(); return e.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true }) && r.width > 0 && r.height > 0 }
  const label = (e) => (e.id ? '#' + e.id : e.tagName.toLowerCase() + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\s+/)[0] : '')) +
    ' "' + (e.textContent || e.value || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"'
  const out = { headings: [], small: [], cut: [], names: [] }
  const h1 = document.querySelector('h1')
  out.titleText = document.title
  out.title = /^(Error: )?\S.* – Inspection evidence portal$/.test(document.title) && !!h1
  // Headings: one h1; no level skipped going down.
  const hs = [...document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6')]
  if (document.querySelectorAll('h1').length !== 1) out.headings.push(`${document.querySelectorAll('h1').length} h1`)
  let level = 1
  for (const h of hs) {
    const l = Number(h.tagName[1])
    if (l > level + 1) out.headings.push(`${h.tagName} "${h.textContent.trim().slice(0, 40)}" after h${level}`)
    level = l
  }
  // Targets (2.5.8).
  const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')]
    .filter((e) => visible(e) || (e.matches('input[type=checkbox], input[type=radio]') && e.checkVisibility() && e.getBoundingClientRect().width > 0))
  const rects = targets.map((e) => e.getBoundingClientRect())
  const inSentence = (e) => {
    if (e.tagName !== 'A' || getComputedStyle(e).display !== 'inline') return false
    const block = e.closest('p, li, td, dd, div, span')
    return block && block.textContent.replace(e.textContent, '').trim().length > 0
  }
  const small = (r) => r.width < 24 - 0.5 || r.height < 24 - 0.5
  const dist = (x, y, r) => Math.hypot(Math.max(r.left - x, 0, x - r.right), Math.max(r.top - y, 0, y - r.bottom))
  targets.forEach((e, i) => {
    const r = rects[i]
    if (!small(r) || inSentence(e) || e.closest('.govuk-skip-link, .govuk-visually-hidden')) return
    const cx = r.left + r.width / 2; const cy = r.top + r.height / 2
    const near = targets.find((t, j) => j !== i && !t.contains(e) && !e.contains(t) &&
      (dist(cx, cy, rects[j]) < 12 || (small(rects[j]) && Math.hypot(cx - (rects[j].left + rects[j].width / 2), cy - (rects[j].top + rects[j].height / 2)) < 24)))
    if (near) out.small.push(`${label(e)} ${Math.round(r.width)}x${Math.round(r.height)} beside ${label(near)}`)
  })
  // Text cut off by a box that hides what overflows it.
  for (const e of document.querySelectorAll('main *, header *, footer *, nav *')) {
    if (!visible(e) || e.closest('.govuk-visually-hidden, thead') || e.matches('.govuk-visually-hidden, input, select, textarea, progress')) continue
    const s = getComputedStyle(e)
    if (!['hidden', 'clip'].includes(s.overflowX) && s.textOverflow !== 'ellipsis') continue
    if (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 1) out.cut.push(`${label(e)} ${e.scrollWidth}>${e.clientWidth}`)
  }
  // Names: the same accessible name for different acts.
  const nameOf = (e) => (e.getAttribute('aria-label') || e.textContent || e.value || '').trim().replace(/\s+/g, ' ')
  const actOf = (e) => {
    if (e.tagName === 'A') return 'link ' + new URL(e.href, location.href).href
    const form = e.form
    return 'button ' + (form ? (e.getAttribute('formaction') || form.action) + ' ' + [...form.elements].filter((x) => x.type === 'hidden').map((x) => x.name + '=' + x.value).join('&') : e.id)
  }
  const byName = new Map()
  for (const e of document.querySelectorAll('main a[href], main button')) {
    if (e.getAttribute('href')?.startsWith('#') || e.closest('.govuk-error-summary')) continue
    const n = nameOf(e)
    if (!byName.has(n)) byName.set(n, new Set())
    byName.get(n).add(actOf(e))
  }
  for (const [n, acts] of byName) if (acts.size > 1) out.names.push(`"${n}" does ${acts.size} different things`)
  return out
}

// focusWalk moves focus, in the page, to each control in Tab order (after
// one real Tab, so the page is in keyboard mode as a keyboard user's is)
// and returns each whose focus is not shown or is hidden behind something.
// Focusing scrolls as tabbing does; one call is quicker than a Tab each.
async function focusWalk (page) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0) })
  await page.keyboard.press('Tab')
  return page.evaluate(() => {
    const ring = (s) => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && s.outlineColor !== 'rgba(0, 0, 0, 0)') || (s.boxShadow && s.boxShadow !== 'none')
    const tabbable = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')]
      .filter((e) => e.tabIndex >= 0 && !e.disabled && e.checkVisibility({ visibilityProperty: true }) && e.getClientRects().length)
    const bad = []
    for (const e of tabbable) {
      e.focus()
      if (document.activeElement !== e) continue
      const what = (e.id ? '#' + e.id : e.tagName.toLowerCase()) + ' "' + (e.textContent || e.value || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"'
      const s = getComputedStyle(e)
      // A GOV.UK checkbox or radio shows its focus on its label's box.
      const box = e.matches('.govuk-checkboxes__input, .govuk-radios__input') && e.labels?.[0]
      const shown = ring(s) || (box && ring(getComputedStyle(box, '::before'))) ||
        (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 && s.backgroundColor !== getComputedStyle(e.parentElement).backgroundColor)
      const r = e.getBoundingClientRect()
      const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1); const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1)
      const top = document.elementFromPoint(x, y)
      const onTop = !!top && (top === e || e.contains(top) || top.contains(e) || (e.labels && [...e.labels].some((l) => l.contains(top))))
      const inView = r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth
      if (!shown) bad.push(`${what}: no focus indicator`)
      if (!onTop || !inView) bad.push(`${what}: hidden when focused`)
    }
    document.activeElement?.blur()
    return bad
  })
}

// errorSummary checks the GOV.UK pattern on a refused form: the summary
// has focus, and each link moves focus to its field.
// GOV.UK Frontend, which moves the focus, is imported by portal.mjs on its
// own, which the load event does not wait for: on a busy machine seconds later.
async function errorSummary (page, name) {
  await page.waitForLoadState('load')
  const focused = await page.waitForFunction(() => document.activeElement?.closest('.govuk-error-summary'), null, { timeout: 10000 }).then(() => true, () => false)
  check(focused, `${name}: the error summary has focus when the page opens`)
  const links = await page.locator('.govuk-error-summary__list a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))
  for (const [i, href] of links.entries()) {
    await page.locator('.govuk-error-summary__list a').nth(i).click()
    const at = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName)
    check(at === href.slice(1), `${name}: the summary's link ${href} moves focus to its field (focus on ${at})`)
  }
}

const browser = await launch()
try {
  // --- The coordinator uploads, and looks at the visit --------------------
  const co = await browser.newContext({ bypassCSP: true })
  const cpage = await signIn(co, 'cafcass', 'coordinator@cafcass.example')
  await inspect(cpage, 'coordinator-visits')
  await cpage.goto(`${base}/visits/${visit}/upload`)
  await cpage.waitForSelector('#upload-form[data-ready]')
  await cpage.setInputFiles('#file', [{ name: '1.02 Walk policy.pdf', mimeType: 'application/pdf', buffer: Buffer.from('policy') }])
  await cpage.waitForFunction(() => (document.getElementById('upload-0-status')?.textContent ?? '').startsWith('Uploaded'), null, { timeout: 30000 })
  const live = await cpage.evaluate(() => document.getElementById('upload-live')?.textContent ?? '')
  check(/1 of 1 file uploaded/.test(live), `the upload's end is told to screen readers (${JSON.stringify(live)})`)
  await inspect(cpage, 'coordinator-upload')
  await cpage.goto(`${base}/visits/${visit}`)
  await inspect(cpage, 'coordinator-visit')
  const receipt = await cpage.locator('#receipts-table a[href^="/visits/"]').first().getAttribute('href')
  await cpage.goto(base + receipt)
  check(!(await cpage.title()).includes('not found'), `the coordinator opens a receipt (${receipt}): ${await cpage.title()}`)
  await inspect(cpage, 'coordinator-receipt')
  await cpage.goto(`${base}/visits/${visit}/questions?item=1.01`)
  await inspect(cpage, 'coordinator-questions')
  await cpage.goto(`${base}/notifications`)
  await inspect(cpage, 'coordinator-notifications')
  // The visit page stays open while an administrator sets a legal hold.
  await cpage.goto(`${base}/visits/${visit}#files`)

  // --- The lead inspector downloads ----------------------------------------
  const le = await browser.newContext({ bypassCSP: true })
  const lpage = await signIn(le, 'ofsted', 'lead@ofsted.example')
  await lpage.goto(`${base}/visits/${visit}`)
  await inspect(lpage, 'lead-visit')
  await lpage.locator('input[name=file]').first().check()
  const [download] = await Promise.all([lpage.waitForEvent('download'), lpage.getByRole('button', { name: 'Download selected files as a zip' }).click()])
  check((await download.suggestedFilename()).endsWith('.zip'), 'the lead downloads the ticked files as a zip')
  await lpage.goto(`${base}/visits/${visit}/download`)
  await errorSummary(lpage, 'download with nothing ticked')
  await lpage.goto(`${base}/visits/${visit}/request`)
  await inspect(lpage, 'lead-request')
  await lpage.goto(`${base}/visits/${visit}/audit`)
  await inspect(lpage, 'lead-audit')
  await le.close()

  // --- The administrator: members, a hold, destruction ---------------------
  const ad = await browser.newContext({ bypassCSP: true })
  const apage = await signIn(ad, 'ofsted', 'admin@ofsted.example')
  await apage.goto(`${base}/visits/${visit}/members`)
  await inspect(apage, 'admin-members')
  await apage.click('button:has-text("Save member")')
  await apage.waitForSelector('.govuk-error-summary')
  await errorSummary(apage, 'a member added with nothing filled in')
  await apage.goto(`${base}/visits/${visit}`)
  await inspect(apage, 'admin-visit')
  await apage.goto(`${base}/destruction`)
  await inspect(apage, 'admin-destruction')
  await apage.goto(`${base}/visits`)
  await apage.getByRole('button', { name: 'Create visit' }).click()
  await apage.waitForSelector('.govuk-error-summary')
  await errorSummary(apage, 'a visit created with nothing filled in')
  await apage.goto(`${base}/visits/${visit}#hold-form`)
  await apage.getByRole('button', { name: 'Set a legal hold' }).click()
  await apage.waitForSelector('.govuk-error-summary')
  await errorSummary(apage, 'a legal hold with no reason')
  await apage.fill('#hold_reason', 'Complaint escalated')
  await apage.getByRole('button', { name: 'Set a legal hold' }).click()
  await apage.waitForURL((u) => u.pathname === `/visits/${visit}`)
  await ad.close()

  // --- The coordinator deletes a file from the page loaded before the hold
  const row = cpage.locator('tr', { hasText: '1.01 Staff list.pdf' })
  await row.locator('details.portal-correct summary').click()
  await row.getByRole('button', { name: 'Delete 1.01 Staff list.pdf' }).click()
  await cpage.waitForSelector('.govuk-error-summary')
  check((await cpage.title()).startsWith('Error: '), 'a delete refused under a legal hold comes back on the visit page')
  await errorSummary(cpage, 'a delete refused under a legal hold')
  await inspect(cpage, 'coordinator-delete-refused')
  await co.close()
} finally {
  await browser.close()
}
finish('walk')
