package web

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// TestVerifyLogoutToken: a logout token is taken only as Back-Channel
// Logout 1.0 section 2.6 says: signed by the provider's key, for the
// portal's client id, from the provider's issuer, recent, carrying the
// back-channel logout event as a JSON object, a sub or a sid, a jti, and
// no nonce (so an ID token never passes for one). Each refusal says why,
// in the portal's words.
func TestVerifyLogoutToken(t *testing.T) {
	const issuer, clientID = "https://idp.example/", "evidence-portal"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	verifier := oidc.NewVerifier(issuer, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&key.PublicKey}},
		&oidc.Config{ClientID: clientID, SkipExpiryCheck: true, Now: func() time.Time { return now }})
	sign := func(k *rsa.PrivateKey, claims map[string]any) string {
		t.Helper()
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithType("logout+jwt"))
		if err != nil {
			t.Fatal(err)
		}
		payload, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	good := map[string]any{
		"iss": issuer, "aud": []string{clientID}, "iat": now.Add(-10 * time.Second).Unix(), "jti": "jti-1",
		"sid": "sid-1", "events": map[string]any{backchannelEvent: map[string]any{}},
	}
	with := func(change func(map[string]any)) map[string]any {
		c := maps.Clone(good)
		change(c)
		return c
	}

	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   logoutClaims
	}{
		{"sid only (as Hydra sends)", good, logoutClaims{Issuer: issuer, SID: "sid-1", JTI: "jti-1"}},
		{"sub only", with(func(c map[string]any) { delete(c, "sid"); c["sub"] = "sub-1" }), logoutClaims{Issuer: issuer, Subject: "sub-1", JTI: "jti-1"}},
		{"sub and sid, aud a string, exp ahead", with(func(c map[string]any) { c["sub"], c["aud"], c["exp"] = "sub-1", clientID, now.Add(time.Minute).Unix() }),
			logoutClaims{Issuer: issuer, Subject: "sub-1", SID: "sid-1", JTI: "jti-1"}},
		{"the event's object has members", with(func(c map[string]any) {
			c["events"] = map[string]any{backchannelEvent: map[string]any{"x": 1}, "https://other.example/event": true}
		}), logoutClaims{Issuer: issuer, SID: "sid-1", JTI: "jti-1"}},
		{"issued a minute ahead of the portal's clock", with(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() }), logoutClaims{Issuer: issuer, SID: "sid-1", JTI: "jti-1"}},
	} {
		t.Run("good/"+tc.name, func(t *testing.T) {
			got, err := verifyLogoutToken(context.Background(), verifier, sign(key, tc.claims), now)
			if err != nil {
				t.Fatal(err)
			}
			got.IssuedAt = time.Time{}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name string
		raw  string
		want string // in the reason
	}{
		{"no token", "", "no logout_token"},
		{"not a JWT", "not.a.jwt", "did not verify"},
		{"signed by another key", sign(other, good), "did not verify"},
		{"unsigned", strings.Join(strings.Split(sign(key, good), ".")[:2], ".") + ".", "did not verify"},
		{"for another client", sign(key, with(func(c map[string]any) { c["aud"] = []string{"another-client"} })), "did not verify"},
		{"from another issuer", sign(key, with(func(c map[string]any) { c["iss"] = "https://elsewhere.example/" })), "did not verify"},
		{"with a nonce", sign(key, with(func(c map[string]any) { c["nonce"] = "n-1" })), "nonce"},
		{"with an empty nonce", sign(key, with(func(c map[string]any) { c["nonce"] = "" })), "nonce"},
		{"an ID token", sign(key, map[string]any{"iss": issuer, "aud": clientID, "sub": "sub-1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": "n-1", "sid": "sid-1", "jti": "j"}), "nonce"},
		{"no events", sign(key, with(func(c map[string]any) { delete(c, "events") })), "no events claim"},
		{"events not an object", sign(key, with(func(c map[string]any) { c["events"] = []string{backchannelEvent} })), "no events claim"},
		{"events null", sign(key, with(func(c map[string]any) { c["events"] = nil })), "no events claim"},
		{"events without the back-channel logout event", sign(key, with(func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		})), "no back-channel logout event"},
		{"the event's value true", sign(key, with(func(c map[string]any) { c["events"] = map[string]any{backchannelEvent: true} })), "no back-channel logout event"},
		{"the event's value null", sign(key, with(func(c map[string]any) { c["events"] = map[string]any{backchannelEvent: nil} })), "no back-channel logout event"},
		{"the event's value an array", sign(key, with(func(c map[string]any) { c["events"] = map[string]any{backchannelEvent: []any{}} })), "no back-channel logout event"},
		{"no iat", sign(key, with(func(c map[string]any) { delete(c, "iat") })), "no iat"},
		{"issued too long ago", sign(key, with(func(c map[string]any) { c["iat"] = now.Add(-logoutTokenMaxAge - time.Second).Unix() })), "too long ago"},
		{"issued in the future", sign(key, with(func(c map[string]any) { c["iat"] = now.Add(logoutTokenSkew + time.Minute).Unix() })), "in the future"},
		{"expired", sign(key, with(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), "expired"},
		{"neither sub nor sid", sign(key, with(func(c map[string]any) { delete(c, "sid") })), "neither sub nor sid"},
		{"an empty sid", sign(key, with(func(c map[string]any) { c["sid"] = "" })), "sid is not a string"},
		{"a sid that is a number", sign(key, with(func(c map[string]any) { c["sid"] = 42 })), "sid is not a string"},
		{"a sub that is null", sign(key, with(func(c map[string]any) { c["sub"] = nil })), "sub is not a string"},
		{"no jti", sign(key, with(func(c map[string]any) { delete(c, "jti") })), "no jti"},
		{"a jti too long", sign(key, with(func(c map[string]any) { c["jti"] = strings.Repeat("j", maxLogoutClaim+1) })), "jti is not a string"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, err := verifyLogoutToken(context.Background(), verifier, tc.raw, now)
			var refused logoutTokenError
			if !errors.As(err, &refused) {
				t.Fatalf("refused with %v, want a logoutTokenError", err)
			}
			if !strings.Contains(refused.reason, tc.want) {
				t.Errorf("reason %q, want it to say %q", refused.reason, tc.want)
			}
			if strings.Contains(refused.reason, "elsewhere.example") || strings.Contains(refused.reason, "another-client") {
				t.Errorf("the reason quotes the token: %q", refused.reason)
			}
		})
	}
}
