package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Session keys. Sessions live server-side; the cookie carries only a random
// token. The ID token is kept for RP-initiated logout (id_token_hint).
const (
	sessIdP      = "idp"
	sessIDToken  = "id_token"
	sessSignedIn = "signed_in_at"
	sessLogins   = "pending_logins"
)

func newSessionManager(cfg portal.Config, st *store.SessionStore) *scs.SessionManager {
	m := scs.New()
	m.Store = st
	m.IdleTimeout = cfg.SessionIdle
	m.Lifetime = cfg.SessionLifetime
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Path = "/"
	m.Cookie.Persist = false
	m.Cookie.Secure = !cfg.Dev
	m.Cookie.Name = "portal_session"
	if m.Cookie.Secure {
		// __Host- cookies are Secure, host-only and Path=/: no subdomain
		// can set or read them.
		m.Cookie.Name = "__Host-portal_session"
	}
	return m
}

// pendingLogin is one sign-in in flight, kept in the (pre-sign-in) session
// until its callback consumes it.
type pendingLogin struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	IdP      string    `json:"idp"`
	ReturnTo string    `json:"return_to"`
	Started  time.Time `json:"started"`
}

// loginTTL bounds how long a user may take at the identity provider.
const loginTTL = 10 * time.Minute

// maxPendingLogins bounds the list (several tabs may start sign-ins).
const maxPendingLogins = 5

func (s *Server) pendingLogins(ctx context.Context) []pendingLogin {
	var list []pendingLogin
	if b := s.sessions.GetBytes(ctx, sessLogins); len(b) > 0 {
		_ = json.Unmarshal(b, &list)
	}
	fresh := list[:0]
	for _, p := range list {
		if s.svc.Now().Sub(p.Started) < loginTTL {
			fresh = append(fresh, p)
		}
	}
	return fresh
}

func (s *Server) addPendingLogin(ctx context.Context, p pendingLogin) {
	list := append(s.pendingLogins(ctx), p)
	if len(list) > maxPendingLogins {
		list = list[len(list)-maxPendingLogins:]
	}
	b, _ := json.Marshal(list)
	s.sessions.Put(ctx, sessLogins, b)
}

// takePendingLogin removes and returns the login with this state: a state is
// good for one callback only.
func (s *Server) takePendingLogin(ctx context.Context, state string) (pendingLogin, bool) {
	list := s.pendingLogins(ctx)
	for i, p := range list {
		if state != "" && constantTimeEqual(p.State, state) {
			list = append(list[:i], list[i+1:]...)
			b, _ := json.Marshal(list)
			s.sessions.Put(ctx, sessLogins, b)
			return p, true
		}
	}
	return pendingLogin{}, false
}
