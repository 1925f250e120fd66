// "Stay signed in" for a session that has already ended, run by
// TestBrowserStaySignedInAfterTheSessionEnded: the person signs out in
// another tab while a page of theirs counts down; when its warning comes
// and they choose to stay signed in, the portal answers 401 in JSON and
// the page takes them to the start page, which says the session ended,
// and signing in again brings them back to the page they were on.
import { env, base, password, check, audit, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')
const browser = await launch()
try {
  const ctx = await browser.newContext({ bypassCSP: true })
  const first = await signIn(ctx, 'ofsted', 'lead@ofsted.example')
  const idle = Number(await first.getAttribute('body', 'data-idle-timeout')) * 1000
  const where = `/visits/${visit}/request`
  await first.goto(base + where)
  // Another tab signs out.
  const other = await ctx.newPage()
  await other.goto(base + '/visits')
  await other.getByRole('button', { name: 'Sign out' }).first().click()
  await other.waitForURL((u) => u.pathname === '/')
  const dialog = first.locator('#timeout-dialog')
  await dialog.waitFor({ state: 'visible', timeout: idle })
  await first.getByRole('button', { name: 'Stay signed in' }).click()
  await first.waitForURL((u) => u.pathname === '/', { timeout: 10000 })
  const url = new URL(first.url())
  check(url.searchParams.get('session_ended') === '1' && url.searchParams.get('return_to') === where,
    `the page went to the start page saying the session ended, to come back after (${url.pathname}${url.search})`)
  check((await first.locator('.govuk-notification-banner').innerText()).includes('Your session had already ended'),
    'the start page says the session had ended')
  await audit(first, 'session-ended')
  await first.getByRole('button', { name: /Sign in with your Ofsted/i }).click()
  await first.fill('#username', 'lead@ofsted.example')
  await first.fill('#password', password)
  await first.click('button[type=submit]')
  await first.waitForURL(base + where, { timeout: 10000 })
  check(true, 'signing in again leads back to the page')
} catch (e) {
  check(false, 'the script ran to its end: ' + (e.stack || e))
} finally {
  await browser.close()
}
finish('stay signed in after the session ended')
