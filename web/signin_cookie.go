package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// A sign-in in flight (state, nonce, PKCE verifier, where to go after) is
// kept in a short-lived cookie of the browser that started it, sealed under
// a key derived from the master key: starting a sign-in writes nothing on the
// server, so signed-out visitors cost nothing. The callback takes the entry
// whose state it carries, once; a callback in another browser finds none.
// The cookie is HttpOnly, SameSite=Lax (the provider's redirect back is a
// top-level GET), and outside development __Host- and Secure, so no other
// site or subdomain can plant one.

// signInTTL bounds how long a person may take at the identity provider.
const signInTTL = 10 * time.Minute

// maxPendingLogins bounds the list (several tabs may start sign-ins) and so
// the cookie's size (with return_to of up to maxReturnTo bytes each).
const maxPendingLogins = 3

// pendingLogin is one sign-in in flight.
type pendingLogin struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	IdP      string `json:"i"`
	ReturnTo string `json:"r"`
	Started  int64  `json:"t"` // Unix seconds
}

func (s *Server) signInCookieName() string {
	if s.cfg.Dev {
		return "portal_signin"
	}
	return "__Host-portal_signin"
}

// pendingLogins reads the browser's sign-ins in flight, dropping expired
// ones. A cookie that does not open (altered, or sealed under another
// master key) holds none.
func (s *Server) pendingLogins(c *gin.Context) []pendingLogin {
	name := s.signInCookieName()
	v, err := c.Cookie(name)
	if err != nil || v == "" {
		return nil
	}
	sealed, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	b, err := s.signInBox.Open(sealed, name)
	if err != nil {
		return nil
	}
	var list []pendingLogin
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	now := time.Now()
	fresh := list[:0]
	for _, p := range list {
		if age := now.Sub(time.Unix(p.Started, 0)); age >= 0 && age < signInTTL {
			fresh = append(fresh, p)
		}
	}
	return fresh
}

// setPendingLogins writes the list back (or clears the cookie when empty).
func (s *Server) setPendingLogins(c *gin.Context, list []pendingLogin) {
	if len(list) > maxPendingLogins {
		list = list[len(list)-maxPendingLogins:]
	}
	ck := &http.Cookie{Name: s.signInCookieName(), Path: "/", HttpOnly: true, Secure: !s.cfg.Dev, SameSite: http.SameSiteLaxMode}
	if len(list) == 0 {
		ck.MaxAge = -1
	} else {
		b, _ := json.Marshal(list)
		ck.Value = base64.RawURLEncoding.EncodeToString(s.signInBox.Seal(b, ck.Name))
		ck.MaxAge = int(signInTTL / time.Second)
	}
	http.SetCookie(c.Writer, ck)
}

// takePendingLogin removes and returns the sign-in with this state: a
// state is good for one callback only.
func (s *Server) takePendingLogin(c *gin.Context, state string) (pendingLogin, bool) {
	list := s.pendingLogins(c)
	for i, p := range list {
		if state != "" && constantTimeEqual(p.State, state) {
			s.setPendingLogins(c, append(list[:i:i], list[i+1:]...))
			return p, true
		}
	}
	return pendingLogin{}, false
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
