// The warning before an idle session ends (GOV.UK timeout-warning pattern,
// WCAG 2.2.1 Timing adjustable). The page carries the session's idle
// timeout in seconds (data-idle-timeout on <body>, set only when signed
// in); the session's clock starts again with every request, so this
// page's clock starts when it loads. Before it runs out (2 minutes before,
// or half the timeout when that is shorter) a modal dialog says when the
// person will be signed out and offers to stay signed in, which asks the
// portal to extend the session (POST /session/extend) without leaving the
// page, so a half-typed form is kept. Focus moves into the dialog and back
// to where it was when it closes; Escape stays signed in. At the end the
// page signs out.
const idle = Number(document.body.dataset.idleTimeout)
if (idle > 0 && typeof HTMLDialogElement === 'function') start(idle)

function start (idle) {
  const lead = Math.min(120, Math.floor(idle / 2))
  let deadline = Date.now() + idle * 1000
  let warnTimer, tick, returnFocus
  const dialog = build()
  document.body.append(dialog)
  const count = dialog.querySelector('#timeout-count')
  const live = dialog.querySelector('#timeout-live')

  const schedule = () => {
    clearTimeout(warnTimer)
    warnTimer = setTimeout(open, Math.max(0, deadline - Date.now() - lead * 1000))
  }
  const words = (s) => s >= 60
    ? `${Math.ceil(s / 60)} minute${Math.ceil(s / 60) === 1 ? '' : 's'}`
    : `${s} second${s === 1 ? '' : 's'}`
  const update = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000))
    count.textContent = words(left)
    // Screen readers hear the time when the dialog opens and every 20
    // seconds, not every second.
    if (left % 20 === 0 || !live.textContent) live.textContent = `For your security, we will sign you out in ${words(left)}.`
    if (left === 0) signOut()
  }
  function open () {
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
    try {
      const res = await fetch('/session/extend', { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json' } })
      if (!res.ok) throw new Error(String(res.status))
      const body = await res.json()
      deadline = Date.now() + (body.idle_timeout || idle) * 1000
      close()
      schedule()
    } catch {
      // The session has already ended: the page shows the way to sign in.
      window.location.reload()
    }
  }
  function signOut () {
    clearInterval(tick)
    dialog.querySelector('form').submit()
  }
  dialog.querySelector('#timeout-stay').addEventListener('click', stay)
  dialog.addEventListener('cancel', (e) => { e.preventDefault(); stay() })
  schedule()
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
