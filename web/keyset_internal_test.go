package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestKeySetTellsAFetchApart: a verification is told that fetching the
// provider's keys failed (its status, never the provider's body), and
// only then: a token no key verifies, or one not a JWT, is the token's
// fault. This pins what keySet reads from go-oidc's errors.
func TestKeySetTellsAFetchApart(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	sign := func(k *rsa.PrivateKey, kid string) string { return signedBy(t, k, kid) }
	verify := func(ks keySet, raw string) (error, error) {
		var f keyFetch
		_, err := ks.VerifySignature(withKeyFetch(context.Background(), &f), raw)
		return err, f.err
	}

	ks := newKeySet(srv.Client(), srv.URL)
	if err, fetch := verify(ks, sign(key, "k1")); err != nil || fetch != nil {
		t.Fatalf("a token the keys verify: %v, fetch %v", err, fetch)
	}
	for name, raw := range map[string]string{"signed by another key": sign(other, "k1"), "naming a key not held": sign(other, "k9"), "not a JWT": "not.a.jwt"} {
		if err, fetch := verify(ks, raw); err == nil || fetch != nil {
			t.Errorf("a token %s: %v, fetch %v; want it refused, with the fetch sound", name, err, fetch)
		}
	}

	down.Store(true)
	err, fetch := verify(newKeySet(srv.Client(), srv.URL), sign(key, "k1"))
	if err == nil || fetch == nil || answeredStatus(fetch) != http.StatusServiceUnavailable || strings.Contains(fetch.Error(), "maintenance") {
		t.Errorf("the keys endpoint answering 503: %v, fetch %v; want the fetch failed with its status only", err, fetch)
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if err, fetch := verify(newKeySet(srv.Client(), dead.URL), sign(key, "k1")); err == nil || fetch == nil {
		t.Errorf("the keys endpoint unreachable: %v, fetch %v; want the fetch failed", err, fetch)
	}
}

// TestHeldBackTokensAreCheckedWithoutAFetch: a logout token from an
// address held back for junk is let through to be checked only when it
// verifies against the provider's keys as last read (at discovery), with
// no fetch: a token naming the provider's real key with a forged
// signature is refused without making the portal fetch the keys (go-oidc
// fetches them again for any signature its cached keys do not verify);
// and a genuine one is let through from the first, with no sign-in since
// the portal started. Before, a key id that had verified a token let any
// token naming it through (each forged one a fetch), and none was let
// through before someone had signed in.
func TestHeldBackTokensAreCheckedWithoutAFetch(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	t.Cleanup(srv.Close)
	sign := func(k *rsa.PrivateKey, kid string) string { return signedBy(t, k, kid) }
	ctx := context.Background()
	ks := newKeySet(srv.Client(), srv.URL)
	ks.readHeld(ctx, srv.Client()) // as discovery does
	if !ks.admitsHeldBack(ctx, sign(key, "k1")) {
		t.Error("a genuine token, no sign-in since the portal started: held back")
	}
	// A sign-in's token verified the usual way.
	if _, err := ks.VerifySignature(ctx, sign(key, "k1")); err != nil {
		t.Fatal(err)
	}
	before := fetches.Load()
	for range 5 {
		if ks.admitsHeldBack(ctx, sign(forger, "k1")) {
			t.Fatal("a token naming the provider's key, its signature forged, let through")
		}
	}
	if ks.admitsHeldBack(ctx, "junk") {
		t.Error("junk let through")
	}
	if got := fetches.Load(); got != before {
		t.Errorf("held-back tokens made the portal fetch the provider's keys %d times", got-before)
	}
}

// TestHeldKeysFollowTheProvider: a token verified the usual way with a
// key not held (the provider began signing with a new key between
// discoveries) has the held keys read again, at most once a minute; and
// a token let through is checked against the held keys alone, never
// making the portal fetch them. Before, a rotation left genuine held-back
// logouts refused until the next discovery (an hour by default); and a
// token let through was checked with go-oidc's key set, which fetches for
// a key it does not hold (one the provider dropped, still held here).
func TestHeldKeysFollowTheProvider(t *testing.T) {
	oldKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	var published atomic.Pointer[rsa.PrivateKey]
	published.Store(oldKey)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		k := published.Load()
		b, _ := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: fmt.Sprintf("k%p", k), Algorithm: "RS256", Use: "sig"})
		// An encryption key first: not one to verify with.
		enc, _ := json.Marshal(jose.JSONWebKey{Key: &oldKey.PublicKey, KeyID: "enc", Algorithm: "RSA-OAEP", Use: "enc"})
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"keys":[%s,%s]}`, enc, b)
	}))
	t.Cleanup(srv.Close)
	sign := func(k *rsa.PrivateKey) string { return signedBy(t, k, fmt.Sprintf("k%p", k)) }
	ctx := context.Background()
	ks := newKeySet(srv.Client(), srv.URL)
	ks.readHeld(ctx, srv.Client())
	if !ks.admitsHeldBack(ctx, sign(oldKey)) {
		t.Fatal("the provider's key not held")
	}
	// The provider rotates: a sign-in's token, signed with the new key,
	// verifies the usual way, and the keys are read again.
	published.Store(newKey)
	if _, err := ks.VerifySignature(ctx, sign(newKey)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !ks.admitsHeldBack(ctx, sign(newKey)); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("after a token signed with the provider's new key verified, a held-back logout signed with it is still refused")
		}
	}
	// Tokens let through are checked against the held keys alone.
	held := ks.heldOnly()
	before := fetches.Load()
	for range 3 {
		if _, err := held.VerifySignature(ctx, sign(oldKey)); err == nil {
			t.Error("a token signed with a key the provider dropped verifies against the keys held")
		}
	}
	if _, err := held.VerifySignature(ctx, sign(newKey)); err != nil {
		t.Errorf("a token signed with the provider's key, against the keys held: %v", err)
	}
	if got := fetches.Load(); got != before {
		t.Errorf("checking tokens against the held keys fetched the keys %d times", got-before)
	}
}

// signedBy is a compact JWS of a small payload, signed by k under key id
// kid.
func signedBy(t *testing.T, k *rsa.PrivateKey, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign([]byte(`{"sub":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	return raw
}
