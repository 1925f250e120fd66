// Progressive enhancement. Every page works without this file: it adds the
// GOV.UK Frontend behaviours and turns the upload form into a resumable
// (tus) uploader with drag and drop, progress, pause and retry.
import { batchReceipts } from './receipts.mjs'

document.body.classList.add('js-enabled', 'govuk-frontend-supported')

// Signing out (the person's own, or the timeout's: timeout.mjs submits the
// same form) forgets the unfinished uploads this browser keeps:
// tus-js-client's entries in localStorage hold the files' names, and on a
// shared computer the next person would find them there until the upload
// page was opened again.
document.addEventListener('submit', (ev) => {
  const f = ev.target
  if (f instanceof HTMLFormElement && new URL(f.action, location.href).pathname === '/auth/logout') forgetUploads()
}, true)

function forgetUploads () {
  try {
    for (const k of Object.keys(localStorage)) {
      if (k.startsWith('tus::')) localStorage.removeItem(k)
    }
  } catch {
    // Storage is not available (blocked, or a private window's): nothing kept.
  }
}

try {
  const govuk = await import('/static/vendor/govuk-frontend.min.js')
  govuk.initAll()
} catch {
  // The design system was not built in: the pages stay plain HTML.
}

// The warning before an idle session ends, on pages of a signed-in person.
if (document.body.dataset.idleTimeout) import('/static/timeout.mjs').catch(() => {})

const form = document.getElementById('upload-form')
if (form) {
  try {
    await loadScript('/static/vendor/tus.min.js')
    enhanceUpload(form)
  } catch {
    // Without tus-js-client the plain form still uploads.
  }
}

function loadScript (src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script')
    s.src = src
    s.onload = resolve
    s.onerror = reject
    document.head.appendChild(s)
  })
}

function el (tag, attrs = {}, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v
    else if (k === 'text') e.textContent = v
    else e.setAttribute(k, v)
  }
  for (const c of children) e.append(c)
  return e
}

// hide removes an element from view and from the accessibility tree (the
// design system's buttons override the hidden attribute's display).
function hide (e) {
  e.hidden = true
  e.classList.add('govuk-!-display-none')
}

function formatBytes (n) {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++ }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i]
}

// when shows an HTTP date (an upload's expiry) as a day and time.
function when (date) {
  return new Date(date).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })
}

const itemPrefix = /^([0-9]{1,2}\.[0-9]{1,3}|case-[0-9]{1,3})[ _-]/

// itemFromName mirrors the server's filing by name: a code of the
// information request (the choices of the item list) at the start of the
// name, in any case, then a space, "-", "_" or "."; else an item number.
function itemFromName (name, codes) {
  let best = ''
  for (const c of codes) {
    if (c.length > best.length && name.length > c.length && name.slice(0, c.length).toLowerCase() === c.toLowerCase() && ' -_.'.includes(name[c.length])) best = c
  }
  return best || itemPrefix.exec(name)?.[1] || ''
}

// checkName mirrors the server's rules so obvious refusals are shown at
// once; the server checks again.
// responseCode is the "code" of a JSON error response, if any.
function responseCode (res) {
  try { return JSON.parse(res.getBody()).code || '' } catch { return '' }
}

function checkName (name) {
  if (!name || name === '.' || name === '..') return 'The file has no name.'
  if (/[/\\]/.test(name)) return 'The name contains a slash.'
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'The name contains a control character.'
  if (/[\u202a-\u202e\u2066-\u2069\u200e\u200f]/.test(name)) return 'The name contains text-direction characters: rename the file.'
  if (/[\u200b-\u200d\u2060-\u2064\u180e\ufeff]/.test(name)) return 'The name contains zero-width characters: rename the file.'
  if (/[\p{Cf}\p{Default_Ignorable_Code_Point}]/u.test(name)) return 'The name contains invisible characters: rename the file.'
  if (name.endsWith('.')) return 'The name ends with a dot: rename the file.'
  if (new TextEncoder().encode(name).length > 255) return 'The name is too long: shorten it to 255 characters or fewer (fewer if it has accented letters, symbols or other alphabets).'
  return ''
}

// isSystemFile names the files an operating system leaves in folders
// (thumbnails, folder settings, Office lock files): never evidence.
function isSystemFile (name) {
  const lower = name.toLowerCase()
  return lower === 'thumbs.db' || lower === '.ds_store' || lower === 'desktop.ini' || name.startsWith('~$')
}

// fingerprint is what a file chosen again is matched by to the earlier
// upload it goes on from. tus-js-client's own is the file's name, type,
// size and modification time: a different file alike in those four (copies
// out of a zip keep their times) was sent on from where the other stopped,
// its bytes spliced after the other's into a file that never existed, and
// filed where the other was. This one adds the visit, the item, what to do
// with a taken name, and a SHA-256 of the file's first and last 64 KiB (read
// at once, whatever the file's size).
async function fingerprint (file, visit, e) {
  const sample = 64 * 1024
  const parts = [file.slice(0, sample)]
  if (file.size > sample) parts.push(file.slice(Math.max(sample, file.size - sample)))
  let hex = 'no-digest' // a page not served over HTTPS has no crypto.subtle
  if (window.crypto && crypto.subtle) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await new Blob(parts).arrayBuffer()))
    hex = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('')
  }
  const conflict = e.rename ? 'rename' : e.replace ? 'replace' : ''
  return ['portal-tus-1', visit, e.item, conflict, file.name, file.type, file.size, file.lastModified, hex].map(encodeURIComponent).join('/')
}

function enhanceUpload (form) {
  const tus = window.tus
  const visit = form.dataset.visit
  const maxSize = Number(form.dataset.maxSize)
  const chunkSize = Number(form.dataset.segmentSize)
  const input = form.querySelector('#file')
  const itemSelect = form.querySelector('#item')
  const codes = [...itemSelect.options].map((o) => o.value).filter(Boolean)
  const submit = form.querySelector('#upload-submit')
  const keepBoth = form.querySelector('#on_conflict')
  const folderInput = el('input', { type: 'file', id: 'folder', webkitdirectory: '', multiple: '', class: 'govuk-visually-hidden', tabindex: '-1', 'aria-hidden': 'true' })

  const chooseFiles = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', text: 'Choose files' })
  const chooseFolder = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', text: 'Choose a folder' })
  const drop = el('div', { class: 'portal-drop', id: 'drop-zone' },
    el('p', { class: 'govuk-body', text: 'Drag files or folders here, or' }),
    el('div', { class: 'govuk-button-group' }, chooseFiles, chooseFolder), folderInput)
  input.classList.add('govuk-visually-hidden')
  input.setAttribute('tabindex', '-1')
  input.closest('.govuk-form-group').querySelector('label').classList.add('govuk-visually-hidden')
  input.before(drop)
  hide(submit)

  const overallBar = el('progress', { max: '100', value: '0', 'aria-labelledby': 'overall-label' })
  const overallText = el('p', { class: 'govuk-body', id: 'overall-label', text: 'No files chosen yet.' })
  const pauseAll = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', id: 'pause-all', text: 'Pause all' })
  const resumeAll = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary', id: 'resume-all', text: 'Resume all' })
  const live = el('div', { class: 'govuk-visually-hidden', 'aria-live': 'polite', id: 'upload-live' })
  const list = el('ul', { class: 'portal-queue', id: 'upload-queue', 'aria-label': 'Files being uploaded' })
  const summary = el('div', { class: 'portal-overall', id: 'upload-summary', hidden: '' },
    el('h2', { class: 'govuk-heading-m', text: 'Uploads' }), overallText, overallBar,
    el('div', { class: 'govuk-button-group' }, pauseAll, resumeAll), list,
    el('p', { class: 'govuk-body' }, el('a', { class: 'govuk-link', href: '/visits/' + visit + '#request', text: 'Go to the visit to see the information request' })))
  form.after(summary, live)
  const receipts = batchReceipts(visit, summary)

  const entries = []
  const parallel = 3
  const unfinished = showUnfinished(tus, visit, drop)
  let lastAnnounce = 0

  function announce (text, force) {
    const now = Date.now()
    if (force || now - lastAnnounce > 5000) {
      live.textContent = text
      lastAnnounce = now
    }
  }

  function updateOverall (force) {
    let total = 0; let sent = 0; let done = 0; let failed = 0
    for (const e of entries) {
      if (e.state === 'skipped') continue
      if (e.state === 'refused' || e.state === 'failed') { failed++; continue }
      total += e.file.size
      sent += e.sent
      if (e.state === 'done') done++
    }
    const pct = total ? Math.floor(sent * 100 / total) : 100
    overallBar.value = pct
    const active = entries.length - failed
    let text = `${done} of ${active} file${active === 1 ? '' : 's'} uploaded (${formatBytes(sent)} of ${formatBytes(total)}).`
    if (failed) text += ` ${failed} could not be uploaded: see below.`
    overallText.textContent = text
    announce(text, force)
    if (force) receipts.check(entries)
  }

  function setStatus (e, text, error) {
    e.status.textContent = text
    e.status.classList.toggle('portal-queue__status--error', !!error)
    // Whether a file is being sent now, for the countdown to sign-out
    // (timeout.mjs): every change of a file's state comes with its status.
    document.documentElement.dataset.uploading = entries.some((x) => x.state === 'uploading') ? 'yes' : ''
  }

  function refuse (e, text) {
    e.state = 'refused'
    hide(e.pause)
    setStatus(e, 'Not uploaded: ' + text, true)
    updateOverall(true)
  }

  function add (file) {
    summary.hidden = false
    const id = 'upload-' + entries.length
    const bar = el('progress', { max: '100', value: '0', 'aria-label': 'Progress of ' + file.name })
    const status = el('span', { class: 'govuk-body-s portal-queue__status', id: id + '-status', text: 'Waiting' })
    const pause = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary govuk-!-margin-bottom-0', text: 'Pause' })
    const li = el('li', { class: 'portal-queue__item', id },
      el('span', { class: 'govuk-body portal-queue__name', text: file.name }), el('span', { class: 'govuk-body-s', text: ' · ' + formatBytes(file.size) }),
      bar, status, pause)
    list.append(li)
    const e = { file, bar, status, pause, li, state: 'waiting', sent: 0, upload: null, item: itemFromName(file.name, codes) || itemSelect.value, rename: keepBoth && keepBoth.checked, replace: false }
    unfinished.chosen(file, e.item)
    pause.setAttribute('aria-label', 'Pause ' + file.name)
    pause.addEventListener('click', () => {
      if (e.state === 'uploading' || e.state === 'offline') pauseOne(e)
      else if (e.state === 'paused') { e.state = 'waiting'; setStatus(e, 'Waiting'); pause.textContent = 'Pause'; next() }
    })
    entries.push(e)
    const bad = file.size > maxSize ? `the file is larger than the ${formatBytes(maxSize)} limit.` : checkName(file.name)
    if (bad) refuse(e, bad)
    else if (isSystemFile(file.name)) {
      // Before sending: a system file is skipped with a note.
      e.state = 'skipped'
      hide(e.pause)
      bar.remove()
      setStatus(e, 'Skipped: this is a file your computer makes for itself, not evidence.')
    } else if (file.size === 0) {
      hold(e, 'This file is empty (0 bytes). Check you chose the right file.', [['Upload it anyway', () => checkExisting(e)]])
    } else checkExisting(e)
    updateOverall(true)
    next()
  }

  // hold stops an entry before it is sent until the person chooses.
  function hold (e, text, choices) {
    e.state = 'held'
    hide(e.pause)
    setStatus(e, text, false)
    e.status.classList.add('portal-queue__status--warning')
    const group = el('span', { class: 'portal-queue__choices' })
    const go = (fn) => () => { group.remove(); e.status.classList.remove('portal-queue__status--warning'); fn() }
    for (const [label, fn] of [...choices, ['Do not upload it', () => { e.state = 'skipped'; e.bar.remove(); setStatus(e, 'Not uploaded: you chose not to.'); updateOverall(true) }]]) {
      const b = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary govuk-!-margin-bottom-0', text: label })
      b.setAttribute('aria-label', label + ': ' + e.file.name)
      b.addEventListener('click', go(fn))
      group.append(b)
    }
    e.li.append(group)
    announce(e.file.name + ': ' + text, true)
  }

  function release (e) {
    e.state = 'waiting'
    e.pause.hidden = false
    e.pause.classList.remove('govuk-!-display-none')
    setStatus(e, 'Waiting')
    updateOverall(true)
    next()
  }

  // checkExisting asks, before sending, whether the item already has a
  // file of this name the person may see: keep both, or replace it.
  async function checkExisting (e) {
    e.state = 'checking'
    setStatus(e, 'Checking the item…')
    let taken = false
    try {
      // The name goes in the body: an address is logged by proxies, and
      // a file's name may name a child.
      const res = await fetch(`/api/v1/visits/${visit}/file-names`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: JSON.stringify({ item: e.item, name: e.file.name })
      })
      if (res.ok) taken = (await res.json()).taken === true
    } catch {}
    if (!taken || e.rename) { release(e); return }
    hold(e, `A file called “${e.file.name}” is already ${e.item ? 'filed under item ' + e.item : 'waiting to be filed'}.`, [
      ['Keep both', () => { e.rename = true; release(e) }],
      ['Replace it', () => { e.replace = true; release(e) }]
    ])
  }

  // refusals409 are the conflicts that are answers, not a request still
  // being read (busy) or an offset moved on: a name taken, too many of
  // the person's uploads being sent at once, and a new version's file
  // moved, deleted or replaced, or its case file removed, while it was
  // sent. Sending again changes nothing.
  const refusals409 = ['name_exists', 'too_many_uploads', 'moved', 'replaced_gone', 'not_requested']

  // interrupted says whether an upload stopped for want of the portal (the
  // connection dropped, the laptop slept, the portal restarted) rather than
  // being refused: tus-js-client's own retries last about a minute, and an
  // outage that outlasts them must not end the upload.
  function interrupted (err) {
    // An error with no request behind it is the browser's own (a file
    // that can no longer be read): no outage, and retrying changes nothing.
    if (!err.originalRequest) return false
    const res = err.originalResponse
    const status = res ? res.getStatus() : 0
    if (status === 409) return !refusals409.includes(responseCode(res))
    return status === 0 || status === 502 || status === 503 || status === 504
  }

  // waitForConnection holds an interrupted upload until the browser is
  // back online, or for half a minute, then queues it again: it goes on
  // from the last part the portal kept (the upload's address is in the
  // browser's storage). Other files wait rather than fail one by one.
  function waitForConnection (e, err) {
    e.state = 'offline'
    e.upload = null
    const busy = err.originalResponse && err.originalResponse.getStatus() === 409
    const text = busy
      ? 'The portal is still receiving an earlier request for this file (a connection that dropped, or another tab or window sending it). The upload will go on by itself.'
      : 'Connection lost. The upload will go on from where it stopped when the connection is back.'
    setStatus(e, text)
    announce(e.file.name + ': ' + text, true)
    const go = () => {
      window.removeEventListener('online', go)
      clearTimeout(timer)
      if (e.state !== 'offline') return
      e.state = 'waiting'
      setStatus(e, 'Waiting')
      next()
    }
    window.addEventListener('online', go)
    const timer = setTimeout(go, 30000)
  }

  function pauseOne (e) {
    e.state = 'paused'
    e.upload?.abort()
    const kept = e.expires ? ` The parts already sent are kept until ${when(e.expires)}.` : ''
    setStatus(e, `Paused at ${Math.floor(e.sent * 100 / (e.file.size || 1))}%.${kept}`)
    e.pause.textContent = 'Resume'
    e.pause.setAttribute('aria-label', 'Resume ' + e.file.name)
    next()
  }

  function next () {
    let running = entries.filter((e) => e.state === 'uploading').length
    for (const e of entries) {
      if (running >= parallel) break
      if (e.state === 'waiting') { start(e); running++ }
    }
  }

  function start (e) {
    e.state = 'uploading'
    e.pause.textContent = 'Pause'
    e.pause.setAttribute('aria-label', 'Pause ' + e.file.name)
    setStatus(e, 'Uploading')
    const upload = new tus.Upload(e.file, {
      endpoint: `/api/v1/visits/${visit}/uploads`,
      chunkSize,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
      metadata: Object.assign({ filename: e.file.name, item: e.item }, e.rename ? { on_conflict: 'rename' } : e.replace ? { on_conflict: 'replace' } : {}),
      removeFingerprintOnSuccess: true,
      fingerprint: (file) => fingerprint(file, visit, e),
      // Each answer the portal gives moves the session's idle deadline:
      // the countdown to sign-out (timeout.mjs) is told, so that a batch
      // left to run is not signed out half-way.
      onAfterResponse (req, res) {
        if (res.getStatus() < 400) document.dispatchEvent(new CustomEvent('portal:activity'))
        // Until when the portal keeps what was sent (counted from when the
        // upload began), for the pause's message.
        const expires = res.getHeader('Upload-Expires')
        if (expires) e.expires = expires
      },
      onShouldRetry (err) {
        const status = err.originalResponse ? err.originalResponse.getStatus() : 0
        if (status === 409 && refusals409.includes(responseCode(err.originalResponse))) return false
        if (status === 0 || status >= 500 || status === 409) {
          setStatus(e, 'Connection lost: trying again…')
          return true
        }
        return false
      },
      onProgress (sent, total) {
        e.sent = sent
        const pct = total ? Math.floor(sent * 100 / total) : 100
        e.bar.value = pct
        setStatus(e, `Uploading: ${pct}%`)
        updateOverall(false)
      },
      onSuccess (payload) {
        e.state = 'done'
        e.sent = e.file.size
        e.bar.value = 100
        const res = payload && payload.lastResponse
        const item = (res && res.getHeader('Evidence-Item')) || e.item
        receipts.uploaded(res && res.getHeader('Evidence-File-Id'))
        let text = item ? `Uploaded. Filed under item ${item}.` : 'Uploaded. Not filed under an item.'
        if (e.replace) text += ' It replaces the earlier version, which is kept.'
        // The malware scanner's verdict (Evidence-Scan): an infected file is
        // kept but never served; one being checked waits for the scanner.
        const scan = res && res.getHeader('Evidence-Scan')
        const unreadable = res && res.getHeader('Evidence-Scan-Reason') === 'unreadable'
        if (scan === 'infected' && unreadable) text += ' The malware scanner could not look inside this file: it is protected by a password, or holds more files, or archives inside archives, than the scanner opens. Nobody can download it and the inspection team cannot see it. Upload it again without a password, or as separate files.'
        else if (scan === 'infected') text += ' Malware was found in this file: nobody can download it and the inspection team will not see it. Check the original on your own systems.'
        if (scan === 'scanning') text += ' It is being checked for malware: the inspection team will see it once it is found clean.'
        setStatus(e, text, scan === 'infected')
        hide(e.pause)
        updateOverall(true)
        next()
      },
      onError (err) {
        if (e.state !== 'uploading') return
        if (interrupted(err)) { waitForConnection(e, err); return }
        e.state = 'failed'
        hide(e.pause)
        let msg = 'the upload failed. Try again later.'
        const res = err.originalResponse
        if (res) {
          try { msg = JSON.parse(res.getBody()).error || msg } catch {}
          if (res.getStatus() === 423) msg = 'uploads are closed for you on this visit. ' + msg
        }
        setStatus(e, 'Not uploaded: ' + msg, true)
        if (res && res.getStatus() === 409 && responseCode(res) === 'name_exists') offerKeepBoth(e)
        updateOverall(true)
        next()
      }
    })
    e.upload = upload
    // A file that can no longer be read (changed or removed since it was
    // chosen) has no fingerprint: it starts, and fails with that error.
    upload.findPreviousUploads().catch(() => []).then((previous) => {
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0])
        setStatus(e, 'Resuming an earlier upload')
      }
      if (e.state === 'uploading') upload.start()
    })
  }

  // offerKeepBoth lets the person upload a file whose name is taken in its
  // item beside the other one (the portal numbers it).
  function offerKeepBoth (e) {
    const button = el('button', { type: 'button', class: 'govuk-button govuk-button--secondary govuk-!-margin-bottom-0', text: 'Keep both' })
    button.setAttribute('aria-label', 'Keep both files called ' + e.file.name)
    button.addEventListener('click', () => {
      button.remove()
      e.rename = true
      e.state = 'waiting'
      e.pause.hidden = false
      e.pause.classList.remove('govuk-!-display-none')
      setStatus(e, 'Waiting')
      updateOverall(true)
      next()
    })
    e.li.append(button)
  }

  pauseAll.addEventListener('click', () => { for (const e of entries) if (e.state === 'uploading' || e.state === 'waiting' || e.state === 'offline') pauseOne(e) })
  resumeAll.addEventListener('click', () => {
    for (const e of entries) if (e.state === 'paused') { e.state = 'waiting'; setStatus(e, 'Waiting') }
    next()
  })
  chooseFiles.addEventListener('click', () => input.click())
  chooseFolder.addEventListener('click', () => folderInput.click())
  input.addEventListener('change', () => { for (const f of input.files) add(f); input.value = '' })
  folderInput.addEventListener('change', () => { for (const f of folderInput.files) add(f); folderInput.value = '' })
  form.addEventListener('submit', (ev) => { ev.preventDefault(); for (const f of input.files) add(f); input.value = '' })

  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('portal-drop--over') })
  drop.addEventListener('dragleave', () => drop.classList.remove('portal-drop--over'))
  drop.addEventListener('drop', async (ev) => {
    ev.preventDefault()
    drop.classList.remove('portal-drop--over')
    const items = [...(ev.dataTransfer.items || [])]
    const roots = items.map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean)
    if (!roots.length) {
      for (const f of ev.dataTransfer.files) add(f)
      return
    }
    for (const root of roots) await walk(root, add)
  })

  window.addEventListener('beforeunload', (ev) => {
    if (entries.some((e) => e.state === 'uploading' || e.state === 'waiting' || e.state === 'checking' || e.state === 'offline')) ev.preventDefault()
  })
  form.dataset.ready = 'true' // the page takes files from here on (tests wait for it)
}

// showUnfinished lists, before the drop zone, the uploads to this visit
// that this browser began and did not finish (tus-js-client keeps each
// one's address in the browser's storage): after a reload, a crash or a
// night's sleep the page would otherwise forget them, and the person would
// not know which files to choose again. Choosing the same file goes on from
// where it stopped. An upload the portal no longer has (expired, finished,
// cancelled) is forgotten here too, so that its name does not stay in the
// browser. Returns chosen(file, item), which takes a file chosen again for
// its item off the list.
function showUnfinished (tus, visit, before) {
  const storage = tus.defaultOptions && tus.defaultOptions.urlStorage
  const shown = new Map() // name, size and item -> list item
  const key = (name, size, item) => name + '\u0000' + size + '\u0000' + (item || '')
  const list = el('ul', { class: 'govuk-list govuk-list--bullet', id: 'unfinished-list' })
  const box = el('div', { class: 'govuk-inset-text', id: 'unfinished-uploads', role: 'region', 'aria-labelledby': 'unfinished-heading' },
    el('h2', { class: 'govuk-heading-s', id: 'unfinished-heading', text: 'Uploads not finished' }),
    el('p', { class: 'govuk-body', text: 'These files were being uploaded from this browser and did not finish. Choose the same files again, for the same items: each goes on from where it stopped.' }),
    list)
  before.before(box)
  const refresh = () => {
    box.hidden = list.children.length === 0
    box.classList.toggle('govuk-!-display-none', box.hidden)
  }
  refresh()
  if (storage && storage.findAllUploads) {
    storage.findAllUploads().then(async (stored) => {
      const prefix = `/api/v1/visits/${visit}/uploads/`
      for (const u of stored) {
        if (!u.uploadUrl || !new URL(u.uploadUrl, location.href).pathname.startsWith(prefix)) continue
        // Begun under another fingerprint (an earlier release): never
        // resumed, so not offered, and its name leaves the browser; the
        // upload expires on the portal.
        if (!String(u.urlStorageKey || '').startsWith('tus::portal-tus-1/')) {
          storage.removeUpload(u.urlStorageKey)
          continue
        }
        let res
        try {
          res = await fetch(u.uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } })
        } catch {
          continue // offline: the entry stays for a later visit to the page
        }
        const offset = Number(res.headers.get('Upload-Offset'))
        const length = Number(res.headers.get('Upload-Length'))
        if (res.status === 404 || (res.ok && offset >= length)) {
          storage.removeUpload(u.urlStorageKey)
          continue
        }
        if (!res.ok) continue
        const name = (u.metadata && u.metadata.filename) || 'A file'
        const itemCode = (u.metadata && u.metadata.item) || ''
        if (shown.has(key(name, u.size, itemCode))) continue
        const pct = length ? Math.floor(offset * 100 / length) : 0
        const expires = res.headers.get('Upload-Expires')
        const until = expires ? ` (kept until ${when(expires)})` : ''
        // The item too: a file goes on only under the item it began for.
        const item = itemCode ? ` for item ${itemCode}` : ''
        const li = el('li', { text: `${name}${item}: ${pct}% sent${until}` })
        shown.set(key(name, u.size, itemCode), li)
        list.append(li)
        refresh()
      }
    }).catch(() => {})
  }
  return {
    chosen (file, item) {
      const k = key(file.name, file.size, item)
      const li = shown.get(k)
      if (li) { li.remove(); shown.delete(k); refresh() }
    }
  }
}

// walk adds every file under a dropped entry (folders included).
async function walk (entry, add) {
  if (entry.isFile) {
    add(await new Promise((resolve, reject) => entry.file(resolve, reject)))
    return
  }
  const reader = entry.createReader()
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject))
    if (!batch.length) return
    for (const e of batch) await walk(e, add)
  }
}
