package devidp

import (
	"context"
	"html/template"
	"net/http"
)

// login is the issuer's sign-in page: a plain HTML form (username,
// password, and the auth request id), so scripts can sign in too.
type login struct {
	issuer   string
	storage  *storage
	callback func(context.Context, string) string
	action   string
}

var page = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to {{.Issuer}} (development)</title>
<style>body{font-family:Arial,sans-serif;max-width:40em;margin:2em auto;padding:0 1em}label{display:block;margin-top:1em;font-weight:bold}input{font-size:1em;padding:.3em}.warn{border-left:5px solid #d4351c;padding:.5em 1em;background:#f3f2f1}.error{color:#d4351c;font-weight:bold}button{margin-top:1em;font-size:1em;padding:.4em 1em}</style>
</head>
<body>
<main>
<p class="warn"><strong>Development sign-in: for development and tests only. Never use in production.</strong></p>
<h1>Sign in to {{.Issuer}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="id" value="{{.ID}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required value="{{.Username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div><button type="submit">Sign in</button></div>
</form>
</main>
</body>
</html>
`))

type pageData struct {
	Issuer, Action, ID, Username, Error string
}

func (l *login) render(w http.ResponseWriter, status int, d pageData) {
	d.Issuer, d.Action = l.issuer, l.action
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	page.Execute(w, d)
}

func (l *login) show(w http.ResponseWriter, r *http.Request) {
	l.render(w, http.StatusOK, pageData{ID: r.URL.Query().Get("authRequestID")})
}

func (l *login) submit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, username := r.PostFormValue("id"), r.PostFormValue("username")
	if problem := l.storage.checkLogin(username, r.PostFormValue("password"), id); problem != "" {
		l.render(w, http.StatusUnauthorized, pageData{ID: id, Username: username, Error: problem})
		return
	}
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
}
