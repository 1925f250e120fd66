package devstack

import (
	"html/template"
	"net/http"
	"strings"
)

// MailViewer is a small web page over mailpit's API, for make run: the
// mail the demo sends, newest first, each with its text and its HTML (in a
// sandboxed frame). mailpit's own page needs scripts that its Go module
// does not ship, so it is blank when mailpit is built with go install.
// Development only: it has no sign-in.
func MailViewer(mp *Mailpit) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		list, err := mp.Messages(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		render(w, viewList, list)
	})
	mux.HandleFunc("GET /m/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, err := mp.Message(r.Context(), r.PathValue("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		render(w, viewOne, m)
	})
	return mux
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'")
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Write([]byte(b.String()))
}

const viewHead = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Mail sent by the dev stack</title>
<style>body{font-family:Arial,sans-serif;margin:20px;color:#0b0c0c}td,th{text-align:left;padding:4px 12px 4px 0;border-bottom:1px solid #b1b4b6}
pre{white-space:pre-wrap;background:#f3f2f1;padding:10px}iframe{width:100%;height:600px;border:1px solid #b1b4b6}a{color:#1d70b8}</style></head><body>`

var (
	viewList = template.Must(template.New("list").Parse(viewHead + `<h1>Mail sent by the dev stack</h1>
<p>Caught by mailpit (nothing is delivered). Newest first; reload for new mail.</p>
<table><thead><tr><th>To</th><th>Subject</th></tr></thead><tbody>
{{range .}}<tr><td>{{range .To}}{{.Address}} {{end}}</td><td><a href="/m/{{.ID}}">{{.Subject}}</a></td></tr>
{{else}}<tr><td colspan="2">No mail yet.</td></tr>{{end}}
</tbody></table></body></html>`))
	viewOne = template.Must(template.New("one").Parse(viewHead + `<p><a href="/">All mail</a></p>
<h1>{{.Subject}}</h1><p>From {{.From.Address}} to {{range .To}}{{.Address}} {{end}}</p>
<h2>Text</h2><pre>{{.Text}}</pre>
<h2>HTML</h2><iframe title="The message's HTML" sandbox srcdoc="{{.HTML}}"></iframe></body></html>`))
)
