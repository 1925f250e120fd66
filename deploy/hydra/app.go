package hydra

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// The login-and-consent app. Hydra sends the browser here with a challenge;
// the app asks Hydra's admin API about it, accepts or rejects it, and sends
// the browser back to where Hydra says.
func (h *Hydra) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", h.showLogin)
	mux.HandleFunc("POST /login", h.submitLogin)
	mux.HandleFunc("GET /consent", h.consent)
	mux.HandleFunc("GET /logout", h.logout)
	mux.HandleFunc("GET /userinfo", h.userinfo)
	mux.HandleFunc("POST /userinfo", h.userinfo)
	return mux
}

// The form has the dev identity provider's fields (id, username, password),
// so the same scripted sign-in works against both providers.
var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in (Ory Hydra, tests)</title>
</head>
<body>
<main>
<p><strong>Test sign-in through Ory Hydra: for tests only.</strong></p>
<h1>Sign in</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="login">
<input type="hidden" name="id" value="{{.Challenge}}">
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

type loginData struct{ Challenge, Username, Error string }

func renderLogin(w http.ResponseWriter, status int, d loginData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	loginPage.Execute(w, d)
}

type redirect struct {
	RedirectTo string `json:"redirect_to"`
}

func (h *Hydra) showLogin(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	var req struct {
		Skip    bool   `json:"skip"`
		Subject string `json:"subject"`
	}
	q := url.Values{"login_challenge": {challenge}}
	if err := h.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login", q, nil, &req); err != nil {
		http.Error(w, "login request: "+err.Error(), http.StatusBadGateway)
		return
	}
	// Hydra remembers a sign-in for the browser session: it asks to skip
	// the form, and the login must then be accepted for the same subject.
	if req.Skip {
		u, _, _ := h.userBySubject(req.Subject)
		u.Subject = req.Subject
		h.acceptLogin(w, r, challenge, u)
		return
	}
	renderLogin(w, http.StatusOK, loginData{Challenge: challenge})
}

func (h *Hydra) submitLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	challenge := r.PostFormValue("id")
	if challenge == "" {
		challenge = r.URL.Query().Get("login_challenge")
	}
	username := r.PostFormValue("username")
	u, ok := h.user(username)
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.PostFormValue("password"))) != 1 {
		renderLogin(w, http.StatusUnauthorized, loginData{Challenge: challenge, Username: username, Error: "Wrong username or password."})
		return
	}
	h.acceptLogin(w, r, challenge, u)
}

func (h *Hydra) acceptLogin(w http.ResponseWriter, r *http.Request, challenge string, u User) {
	// The login request names the login session it begins or resumes:
	// the sid of the ID tokens issued under it (LoginSessions).
	var lr struct {
		SessionID string `json:"session_id"`
	}
	if err := h.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/login", url.Values{"login_challenge": {challenge}}, nil, &lr); err != nil {
		http.Error(w, "login request: "+err.Error(), http.StatusBadGateway)
		return
	}
	if lr.SessionID != "" {
		h.mu.Lock()
		if s := h.sessions[u.Subject]; !slices.Contains(s, lr.SessionID) {
			h.sessions[u.Subject] = append(s, lr.SessionID)
		}
		h.mu.Unlock()
	}
	amr := u.AMR
	if amr == nil {
		amr = []string{}
	}
	body := map[string]any{"subject": u.Subject, "remember": true, "remember_for": 0, "amr": amr, "acr": u.ACR}
	var to redirect
	q := url.Values{"login_challenge": {challenge}}
	if err := h.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/login/accept", q, body, &to); err != nil {
		http.Error(w, "accept login: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, to.RedirectTo, http.StatusSeeOther)
}

// consent grants every requested scope (Hydra has already limited them to
// the client's), unless the user's consent is refused.
func (h *Hydra) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		Subject  string   `json:"subject"`
		Scope    []string `json:"requested_scope"`
		Audience []string `json:"requested_access_token_audience"`
		Client   struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"client"`
	}
	q := url.Values{"consent_challenge": {challenge}}
	if err := h.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent", q, nil, &req); err != nil {
		http.Error(w, "consent request: "+err.Error(), http.StatusBadGateway)
		return
	}
	u, refused, ok := h.userBySubject(req.Subject)
	var to redirect
	var err error
	if !ok || refused {
		reject := map[string]any{"error": "access_denied", "error_description": "The user did not give consent."}
		err = h.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/reject", q, reject, &to)
	} else {
		claims := userClaims(u, req.Scope)
		idToken := claims
		if noEmail, _ := req.Client.Metadata[noEmailKey].(bool); noEmail {
			idToken = map[string]any{}
		}
		accept := map[string]any{
			"grant_scope":                 req.Scope,
			"grant_access_token_audience": req.Audience,
			"remember":                    false,
			// access_token claims are what the app's userinfo returns.
			"session": map[string]any{"id_token": idToken, "access_token": claims},
		}
		err = h.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/consent/accept", q, accept, &to)
	}
	if err != nil {
		http.Error(w, "consent: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, to.RedirectTo, http.StatusFound)
}

// userClaims are the standard claims the granted scopes release.
func userClaims(u User, scopes []string) map[string]any {
	c := map[string]any{}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"], c["email_verified"] = u.Email, !u.EmailUnverified
	}
	if slices.Contains(scopes, "profile") && u.Name != "" {
		c["name"] = u.Name
	}
	return c
}

// logout accepts every logout request at once, as a provider without a
// confirmation page does.
func (h *Hydra) logout(w http.ResponseWriter, r *http.Request) {
	var to redirect
	q := url.Values{"logout_challenge": {r.URL.Query().Get("logout_challenge")}}
	if err := h.admin(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/logout/accept", q, nil, &to); err != nil {
		http.Error(w, "accept logout: "+err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, to.RedirectTo, http.StatusFound)
}

// userinfo is the OpenID Connect userinfo endpoint (discovery points here):
// the access token is checked by Hydra's introspection, and the answer is
// its subject and the claims the consent stored with it.
func (h *Hydra) userinfo(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		http.Error(w, "no bearer token", http.StatusUnauthorized)
		return
	}
	in, err := h.introspect(r.Context(), token)
	if err != nil {
		http.Error(w, "introspect: "+err.Error(), http.StatusBadGateway)
		return
	}
	if !in.Active || in.TokenUse != "access_token" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	if !slices.Contains(strings.Fields(in.Scope), "openid") {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="openid"`)
		http.Error(w, "the token lacks the openid scope", http.StatusForbidden)
		return
	}
	out := map[string]any{}
	for k, v := range in.Ext {
		out[k] = v
	}
	out["sub"] = in.Subject
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

type introspection struct {
	Active   bool           `json:"active"`
	Subject  string         `json:"sub"`
	Scope    string         `json:"scope"`
	TokenUse string         `json:"token_use"`
	Ext      map[string]any `json:"ext"`
}

func (h *Hydra) introspect(ctx context.Context, token string) (introspection, error) {
	var in introspection
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.adminURL+"/admin/oauth2/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return in, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	err = do(req, &in)
	return in, err
}
