// Signed receipts of the batches sent from the upload page. Each upload
// already has its own receipt; once every file of a batch has finished
// (uploaded, refused or failed), the portal signs one more listing the
// files uploaded, and the page links to it (to print, or the signed JSON).
const unfinished = new Set(['checking', 'held', 'waiting', 'uploading', 'offline', 'paused'])

export function batchReceipts (visit, after) {
  let uploaded = []
  const list = document.createElement('ul')
  list.className = 'govuk-list'
  list.id = 'batch-receipts'
  const box = document.createElement('div')
  box.hidden = true
  const h = document.createElement('h2')
  h.className = 'govuk-heading-m'
  h.textContent = 'Receipts'
  box.append(h, list)
  after.after(box)

  function link (href, text, download) {
    const a = document.createElement('a')
    a.className = 'govuk-link'
    a.href = href
    a.textContent = text
    if (download) a.setAttribute('download', '')
    return a
  }

  async function settled () {
    if (!uploaded.length) return
    const files = uploaded
    uploaded = []
    const li = document.createElement('li')
    box.hidden = false
    list.append(li)
    try {
      const res = await fetch(`/api/v1/visits/${visit}/receipts`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ files })
      })
      if (!res.ok) throw new Error(String(res.status))
      const r = await res.json()
      li.append(`Receipt for ${files.length} file${files.length === 1 ? '' : 's'}: `,
        link(r.page, 'print it', false), ' or ', link(r.download, 'download the signed receipt (JSON)', true), '.')
    } catch {
      li.textContent = 'The receipt for this batch could not be made. Each file still has its own receipt on the visit page.'
    }
  }

  return {
    uploaded (fileId) { if (fileId) uploaded.push(fileId) },
    // check is called whenever the queue changes: when no file is still
    // to be sent (being checked for a file of the same name, held for the
    // person's choice, waiting, uploading, waiting for the connection, or
    // paused), the batch is over.
    check (entries) {
      if (!entries.some((e) => unfinished.has(e.state))) settled()
    }
  }
}
