// The warning before an idle session ends (GOV.UK timeout-warning pattern,
// WCAG 2.2.1 Timing adjustable). The page carries the session's idle
// timeout in seconds and how long the server holds the session from when
// it made the page, in milliseconds (data-idle-timeout and
// data-session-left on <body>, set only when signed in). The server moves
// an unchanged session's deadline once it has moved a minute (or a tenth
// of the idle timeout when that is shorter), so the time left
// can be less than the idle timeout: the page counts down from what the
// server said, starting from when the browser asked for the page (before
// the server measured it), and signs out a little before the end, so that
// its sign-out reaches a session that still exists and can end the
// provider's session too. Before it runs out (2 minutes before, or half
// the timeout when that is shorter) a modal dialog says when the person
// will be signed out and offers to stay signed in, which asks the portal
// to extend the session (POST /session/extend) without leaving the page,
// so a half-typed form is kept. Focus moves into the dialog and back to
// where it was when it closes; Escape stays signed in. At the end the
// page signs out, by the wall clock, so a page woken from sleep past the
// end signs out within seconds. Requests this page makes itself without the person (the
// uploads of a batch left to run) keep the session alive on the server:
// each such request that the portal answers is told to the countdown (a
// "portal:activity" event on the document), and when the warning or the
// end comes after one, the page asks the portal for the session's new
// deadline while a file is still being sent (data-uploading on <html>, set
// by portal.mjs), so a batch of uploads is not signed out, and stopped,
// half-way; once nothing is being sent it counts down again from the last
// of them instead, as the server moved its deadline then. It does not ask
// the portal then: the request would move the deadline once more, and a
// page left idle after its batch would keep its session for nobody. When "Stay signed in" finds the
// session already ended (signed out in another tab, ended by the identity
// provider or the portal team), the portal answers 401 in JSON, and the
// page goes to the start page, which says the session ended and leads
// back here after signing in again.
const idle = Number(document.body.dataset.idleTimeout)
const left = Number(document.body.dataset.sessionLeft)
if (idle > 0 && left >= 0 && typeof HTMLDialogElement === 'function') start(idle, left)

// requested is when the browser asked for this page, by the wall clock
// (which, unlike the page's own clock, goes on while a computer sleeps).
function requested () {
  const nav = performance.getEntriesByType ? performance.getEntriesByType('navigation')[0] : undefined
  const start = nav && nav.requestStart > 0 ? nav.requestStart : 0
  return Date.now() - (performance.now() - start)
}

// ends is the page's deadline: the server's, less the time a sign-out
// may take to reach it.
function ends (from, left) {
  return from + left - Math.min(5000, left / 10)
}

function start (idle, left) {
  const lead = Math.min(120, Math.floor(idle / 2))
  let deadline = ends(requested(), left)
  let warnTimer, endTimer, tick, returnFocus, signingOut
  // counted is when the deadline was last taken from the portal; active,
  // when the page last had an answer to a request of its own.
  let counted = requested()
  let active = 0
  document.addEventListener('portal:activity', () => { active = Date.now() })
  const dialog = build()
  document.body.append(dialog)
  const count = dialog.querySelector('#timeout-count')
  const live = dialog.querySelector('#timeout-live')

  const schedule = () => {
    clearTimeout(warnTimer)
    clearTimeout(endTimer)
    warnTimer = setTimeout(open, Math.max(0, deadline - Date.now() - lead * 1000))
    endTimer = setTimeout(signOut, Math.max(0, deadline - Date.now()))
  }
  const words = (s) => s >= 60
    ? `${Math.ceil(s / 60)} minute${Math.ceil(s / 60) === 1 ? '' : 's'}`
    : `${s} second${s === 1 ? '' : 's'}`
  const update = () => {
    const secs = Math.max(0, Math.ceil((deadline - Date.now()) / 1000))
    count.textContent = words(secs)
    // Screen readers hear the time when the dialog opens and every 20
    // seconds, not every second.
    if (secs % 20 === 0 || !live.textContent) live.textContent = `For your security, we will sign you out in ${words(secs)}.`
    if (Date.now() >= deadline) signOut()
  }
  // extend asks the portal for the session's deadline again (its idle
  // deadline moved with the page's own requests) and counts down from it;
  // it reports whether that worked (true), the session has ended
  // ('ended'), or the portal could not say (false).
  async function extend () {
    try {
      const sent = Date.now()
      const res = await fetch('/session/extend', { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      if (res.status === 401) return 'ended'
      if (!res.ok) return false
      const body = await res.json()
      deadline = ends(sent, body.session_left_ms >= 0 ? body.session_left_ms : (body.idle_timeout || idle) * 1000)
      counted = sent
      return true
    } catch {
      return false
    }
  }
  // busy is whether the page's own requests went on since the deadline
  // was counted: the portal has moved it.
  const busy = () => active > counted
  // moved takes the deadline the page's own requests moved the session's
  // to: while a file is being sent, from the portal (extend: the batch is
  // the person's, left to run); after, counted from the page's last answer
  // to a request of its own, as the server moved its deadline as it
  // answered and writes a moved deadline once it has moved a minute (a
  // tenth of the idle timeout when that is shorter), so from that much
  // before. It says whether the deadline is now later than when.
  const moved = async (when) => {
    if (document.documentElement.dataset.uploading === 'yes') return await extend() === true && deadline > when
    deadline = ends(active, idle * 1000 - Math.min(60000, idle * 100))
    counted = active
    return deadline > when
  }
  async function open () {
    if (busy() && await moved(Date.now() + lead * 1000)) {
      schedule()
      return
    }
    returnFocus = document.activeElement
    live.textContent = ''
    update()
    dialog.showModal()
    dialog.querySelector('#timeout-heading').focus()
    tick = setInterval(update, 1000)
  }
  const close = () => {
    clearInterval(tick)
    if (dialog.open) dialog.close()
    if (returnFocus && returnFocus.focus) returnFocus.focus()
  }
  async function stay () {
    const extended = await extend()
    if (extended === true) {
      close()
      schedule()
      return
    }
    if (extended === 'ended') {
      // The session has already ended: sign in again, and come back.
      clearTimeout(warnTimer)
      clearTimeout(endTimer)
      clearInterval(tick)
      window.location.assign('/?session_ended=1&return_to=' + encodeURIComponent(window.location.pathname + window.location.search))
      return
    }
    // The portal could not say: the page shows where things stand.
    window.location.reload()
  }
  async function signOut () {
    if (signingOut) return
    signingOut = true
    if (busy() && await moved(Date.now())) {
      signingOut = false
      close()
      schedule()
      return
    }
    clearInterval(tick)
    clearTimeout(endTimer)
    // requestSubmit, unlike submit, is seen by the page's own handlers
    // (portal.mjs forgets the unfinished uploads on sign-out).
    const form = dialog.querySelector('form')
    if (form.requestSubmit) form.requestSubmit()
    else form.submit()
  }
  dialog.querySelector('#timeout-stay').addEventListener('click', stay)
  dialog.addEventListener('cancel', (e) => { e.preventDefault(); stay() })
  schedule()
  // A computer that sleeps stops the page's timers, not the wall clock:
  // woken past the deadline, the page would otherwise go on showing what
  // the session held for as long again as it slept before signing out.
  // The wall clock is looked at every few seconds too.
  setInterval(() => {
    if (!signingOut && Date.now() >= deadline) signOut()
  }, 5000)
}

function build () {
  const d = document.createElement('dialog')
  d.className = 'portal-timeout'
  d.id = 'timeout-dialog'
  d.setAttribute('aria-labelledby', 'timeout-heading')
  d.setAttribute('aria-describedby', 'timeout-message')
  d.innerHTML = `
    <h2 class="govuk-heading-m" id="timeout-heading" tabindex="-1">You’re about to be signed out</h2>
    <p class="govuk-body" id="timeout-message"><span aria-hidden="true">For your security, we will sign you out in <strong id="timeout-count"></strong>.</span></p>
    <p class="govuk-visually-hidden" id="timeout-live" aria-live="polite"></p>
    <p class="govuk-body">Anything you have typed on this page is kept if you stay signed in.</p>
    <div class="govuk-button-group">
      <button type="button" class="govuk-button" id="timeout-stay" data-module="govuk-button">Stay signed in</button>
      <form method="post" action="/auth/logout" class="portal-inline-form"><button type="submit" class="portal-link-button govuk-body">Sign out</button></form>
    </div>`
  return d
}
