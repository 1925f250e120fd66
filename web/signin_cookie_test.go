package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
)

// TestSignInCookie: outside development the sign-in cookie is __Host-,
// Secure, HttpOnly, SameSite=Lax and short-lived; it reads back only in the
// browser that holds it, once per state, and a forged or foreign cookie
// holds nothing.
func TestSignInCookie(t *testing.T) {
	text, _ := crypto.GenerateMasterKey(time.Now())
	master, err := crypto.ParseMasterKey(bytes.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	box, _ := master.Box("signin-cookie")
	s := &Server{cfg: portal.Config{Dev: false}, signInBox: box}
	gin.SetMode(gin.ReleaseMode)

	rec := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(rec)
	c.Request = httptest.NewRequest(http.MethodGet, "/auth/x/login", nil)
	p := pendingLogin{State: "st-1", Nonce: "n", Verifier: "v", IdP: "x", ReturnTo: "/visits", Started: time.Now().Unix()}
	s.setPendingLogins(c, []pendingLogin{p})
	set := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-portal_signin=", "Path=/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(set, want) {
			t.Errorf("cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "st-1") || strings.Contains(set, "/visits") {
		t.Fatal("the cookie shows what it carries")
	}

	callback := func(cookie string) (*gin.Context, *httptest.ResponseRecorder) {
		rec := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(rec)
		c.Request = httptest.NewRequest(http.MethodGet, "/auth/x/callback", nil)
		c.Request.Header.Set("Cookie", cookie)
		return c, rec
	}
	cookie := strings.SplitN(set, ";", 2)[0]
	c, rec = callback(cookie)
	if got, ok := s.takePendingLogin(c, "st-1"); !ok || got != p {
		t.Fatalf("the sign-in in flight did not read back: %+v %v", got, ok)
	}
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("a taken sign-in leaves its cookie: %q", rec.Header().Get("Set-Cookie"))
	}
	c, _ = callback(cookie)
	if _, ok := s.takePendingLogin(c, "other-state"); ok {
		t.Fatal("another state took the sign-in")
	}
	other, _ := master.Box("session-id-token")
	forged := "__Host-portal_signin=" + strings.Repeat("A", 80)
	for _, ck := range []string{forged, ""} {
		c, _ = callback(ck)
		if _, ok := s.takePendingLogin(c, "st-1"); ok {
			t.Fatalf("cookie %q gave a sign-in", ck)
		}
	}
	s.signInBox = other
	c, _ = callback(cookie)
	if _, ok := s.takePendingLogin(c, "st-1"); ok {
		t.Fatal("a cookie sealed under another key gave a sign-in")
	}
}
