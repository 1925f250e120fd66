package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/ofsted-portal/evidence/portal"
)

// TestVerifyIDToken: an ID token is taken only as OpenID Connect Core
// section 3.1.3.7 says, with the verifier the portal builds from a
// provider's discovery document (one that also advertises HS256 and none):
// signed with the provider's key by an asymmetric algorithm, from its
// issuer, for the portal's client id and, if for others too, authorized
// to the portal (azp); unexpired, not issued in the future, carrying the
// sign-in's nonce, and naming the access token given with it if it names
// one (at_hash).
func TestVerifyIDToken(t *testing.T) {
	const clientID, secret, nonce = "portal", "a-client-secret-of-at-least-32-bytes", "nonce-1"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
			"jwks_uri": issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	now := time.Now().Truncate(time.Second)
	p := newIdentityProvider(portal.IdPConfig{Name: "cafcass", Issuer: issuer, ClientID: clientID, ClientSecret: secret},
		"http://portal.example", srv.Client(), func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	d, err := p.fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	sign := func(alg jose.SignatureAlgorithm, k any, claims map[string]any) string {
		t.Helper()
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: k, KeyID: "k1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := jws.CompactSerialize()
		return raw
	}
	good := map[string]any{
		"iss": issuer, "sub": "sub-1", "aud": clientID, "iat": now.Add(-10 * time.Second).Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "nonce": nonce,
	}
	with := func(change func(map[string]any)) map[string]any {
		c := maps.Clone(good)
		change(c)
		return c
	}
	unsigned := func(claims map[string]any) string {
		payload, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"k1"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}

	const accessToken = "the-access-token"
	sum := sha256.Sum256([]byte(accessToken))
	atHash := base64.RawURLEncoding.EncodeToString(sum[:16])

	for _, tc := range []struct {
		name   string
		claims map[string]any
	}{
		{"at_hash the access token's", with(func(c map[string]any) { c["at_hash"] = atHash })},
		{"aud a string", good},
		{"aud an array of the portal", with(func(c map[string]any) { c["aud"] = []string{clientID} })},
		{"azp the portal", with(func(c map[string]any) { c["azp"] = clientID })},
		{"several audiences, authorized to the portal", with(func(c map[string]any) { c["aud"], c["azp"] = []string{clientID, "other-api"}, clientID })},
		{"issued a minute ahead of the portal's clock", with(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })},
	} {
		t.Run("good/"+tc.name, func(t *testing.T) {
			idt, claims, err := verifyIDToken(context.Background(), d.verifier, sign(jose.RS256, key, tc.claims), accessToken, clientID, nonce, now)
			if err != nil {
				t.Fatal(err)
			}
			if idt.Subject != "sub-1" || claims["sub"] != "sub-1" {
				t.Fatalf("subject %q, claims %v", idt.Subject, claims)
			}
		})
	}

	for _, tc := range []struct {
		name string
		raw  string
		want string // the reason
	}{
		{"not a JWT", "not.a.jwt", "id_token did not verify"},
		{"signed by another key", sign(jose.RS256, other, good), "id_token did not verify"},
		{"alg none", unsigned(good), "id_token did not verify"},
		{"HS256 with the client secret", sign(jose.HS256, []byte(secret), good), "id_token did not verify"},
		{"from another issuer", sign(jose.RS256, key, with(func(c map[string]any) { c["iss"] = "https://elsewhere.example" })), "id_token did not verify"},
		{"for another client", sign(jose.RS256, key, with(func(c map[string]any) { c["aud"] = "another-client" })), "id_token did not verify"},
		{"expired", sign(jose.RS256, key, with(func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() })), "id_token expired"},
		{"no nonce", sign(jose.RS256, key, with(func(c map[string]any) { delete(c, "nonce") })), "nonce mismatch"},
		{"another nonce", sign(jose.RS256, key, with(func(c map[string]any) { c["nonce"] = "nonce-2" })), "nonce mismatch"},
		{"several audiences, no azp", sign(jose.RS256, key, with(func(c map[string]any) { c["aud"] = []string{clientID, "another-client"} })),
			"id_token has several audiences and no azp"},
		{"authorized to another client", sign(jose.RS256, key, with(func(c map[string]any) { c["aud"], c["azp"] = []string{clientID, "another-client"}, "another-client" })),
			"id_token azp is not the portal"},
		{"azp another client, aud the portal", sign(jose.RS256, key, with(func(c map[string]any) { c["azp"] = "another-client" })), "id_token azp is not the portal"},
		{"no sub", sign(jose.RS256, key, with(func(c map[string]any) { delete(c, "sub") })), "id_token sub is not a string of 1 to 255 characters"},
		{"an empty sub", sign(jose.RS256, key, with(func(c map[string]any) { c["sub"] = "" })), "id_token sub is not a string of 1 to 255 characters"},
		{"a sub too long", sign(jose.RS256, key, with(func(c map[string]any) { c["sub"] = strings.Repeat("s", 256) })), "id_token sub is not a string of 1 to 255 characters"},
		{"at_hash another access token's", sign(jose.RS256, key, with(func(c map[string]any) { c["at_hash"] = atHash[1:] + "A" })), "id_token at_hash is not the access token's"},
		{"no iat", sign(jose.RS256, key, with(func(c map[string]any) { delete(c, "iat") })), "id_token has no iat"},
		{"issued in the future", sign(jose.RS256, key, with(func(c map[string]any) { c["iat"] = now.Add(idTokenSkew + time.Minute).Unix() })), "id_token issued in the future"},
	} {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, _, err := verifyIDToken(context.Background(), d.verifier, tc.raw, accessToken, clientID, nonce, now)
			var refused signInError
			if !errors.As(err, &refused) {
				t.Fatalf("refused with %v, want a signInError", err)
			}
			if refused.reason != tc.want {
				t.Errorf("reason %q, want %q", refused.reason, tc.want)
			}
		})
	}
}
