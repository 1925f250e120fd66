// The page signs out by the wall clock after the computer slept, run by
// TestBrowserSignOutAfterSleep: a computer that sleeps stops the page's
// timers but not the wall clock, so on waking past the session's end the
// page must sign out at once (ending the provider's session too), not as
// late as it slept while it goes on showing what the session held.
// Playwright's clock moves the page's wall clock on without running its
// timers, as a sleep does.
import { check, signIn, launch, finish } from './lib.mjs'

const browser = await launch()
try {
  const ctx = await browser.newContext({ bypassCSP: true })
  await ctx.clock.install()
  const page = await signIn(ctx, 'ofsted', 'lead@ofsted.example')
  const idle = Number(await page.getAttribute('body', 'data-idle-timeout'))
  check(idle >= 600, `the session's idle timeout is long enough that no timer of the page's falls due in this test (${idle} s)`)
  // portal.mjs imports the countdown (timeout.mjs) on its own, which the
  // load event does not wait for: it must be counting before the computer
  // sleeps, or this tests a page that slept before it began to count.
  await page.locator('#timeout-dialog').waitFor({ state: 'attached', timeout: 10000 })
  await page.clock.setSystemTime(Date.now() + 2 * idle * 1000) // asleep for twice the idle timeout
  let signedOut = true
  await page.waitForURL((u) => u.pathname === '/', { timeout: 20000 }).catch(() => { signedOut = false })
  check(signedOut, `woken after the session's end, the page signs out within seconds (at ${page.url()})`)
} catch (e) {
  check(false, 'the script ran to its end: ' + (e.stack || e))
} finally {
  await browser.close()
}
finish('sign-out after sleep')
