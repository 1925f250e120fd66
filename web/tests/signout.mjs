// Sign-out forgets the unfinished uploads the browser keeps, run by
// TestBrowserSignOutForgetsUnfinishedUploads: tus-js-client keeps each
// upload's address and file name in localStorage, and on a shared
// computer the next person must not find them. Both ways a session is
// signed out from a page: the person's own Sign out, and the page's when
// the idle timeout runs out.
import { env, base, check, signIn, launch, finish } from './lib.mjs'

const visit = env('VISIT_ID')
const browser = await launch()
const kept = (page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('tus::')))
// unfinished stores what tus-js-client stores for an upload not finished.
const unfinished = (page) => page.evaluate((visit) => localStorage.setItem('tus::fingerprint-1::1', JSON.stringify({
  size: 10, metadata: { filename: '1.01 Name of a child.pdf' }, creationTime: new Date().toString(), uploadUrl: `/api/v1/visits/${visit}/uploads/0123456789abcdef0123456789abcdef`
})), visit)
try {
  const ctx = await browser.newContext({ bypassCSP: true })
  let page = await signIn(ctx, 'cafcass', 'uploader@cafcass.example')
  // The visit's page, not the upload page: the upload page forgets, as it
  // loads, each kept upload the portal no longer has (this one never
  // existed), and could do so between the entry and its check.
  await page.goto(`${base}/visits/${visit}`)
  await unfinished(page)
  check((await kept(page)).length === 1, 'an unfinished upload is kept in the browser')
  await page.getByRole('button', { name: /^Sign out/ }).first().click()
  await page.waitForURL((u) => u.pathname === '/')
  check((await kept(page)).length === 0, `signing out forgets the unfinished uploads (${await kept(page)})`)

  page = await signIn(ctx, 'cafcass', 'uploader@cafcass.example')
  const idle = Number(await page.getAttribute('body', 'data-idle-timeout')) * 1000
  await page.goto(`${base}/visits/${visit}`)
  await unfinished(page)
  await page.waitForURL((u) => u.pathname === '/', { timeout: idle + 10000 })
  check((await kept(page)).length === 0, `the sign-out when the time runs out forgets them too (${await kept(page)})`)
} catch (e) {
  check(false, 'the script ran to its end: ' + (e.stack || e))
} finally {
  await browser.close()
}
finish('sign-out forgets unfinished uploads')
