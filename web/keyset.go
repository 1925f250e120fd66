package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
)

// keySet is a provider's signing keys (go-oidc's remote key set, fetched
// when a token names a key not yet held) that tells a failure to fetch
// them apart from a token that does not verify: the verifier turns every
// failure into text, and only the first is the provider's, not the
// person's. A fetch that failed is put in the verification's keyFetch
// (withKeyFetch).
//
// It keeps the keys each fetch brought (held): a token that names one of
// them by its key id is checked against that key alone, and never makes
// go-oidc fetch the keys again when its signature does not verify. Key
// ids are public, so a forged token naming one would otherwise cost the
// provider a fetch each, from any address, however many refused tokens
// that address had sent. A token naming a key not held (the provider's
// keys rotated) is go-oidc's, which fetches them.
type keySet struct {
	remote *oidc.RemoteKeySet
	held   *heldKeys
}

// heldKeys are the keys of the last fetch, by key id.
type heldKeys struct {
	mu   sync.Mutex
	keys map[string]jose.JSONWebKey
}

func (h *heldKeys) get(id string) (jose.JSONWebKey, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.keys[id]
	return k, ok
}

// maxKeySetBytes bounds a key set kept: a provider publishes a few keys.
const maxKeySetBytes = 1 << 20

// keepKeys is the key set's transport: it hands each fetch's answer on to
// go-oidc, and keeps the signing keys it holds.
type keepKeys struct {
	base    http.RoundTripper
	jwksURL string
	held    *heldKeys
}

func (t keepKeys) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || req.URL.String() != t.jwksURL {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var set jose.JSONWebKeySet
	if len(body) <= maxKeySetBytes && json.Unmarshal(body, &set) == nil {
		keys := map[string]jose.JSONWebKey{}
		for _, k := range set.Keys {
			if k.KeyID != "" && k.Use != "enc" && k.Valid() && k.IsPublic() {
				keys[k.KeyID] = k
			}
		}
		t.held.mu.Lock()
		t.held.keys = keys
		t.held.mu.Unlock()
	}
	return resp, nil
}

// newKeySet is the key set at jwksURL, fetched through client.
func newKeySet(client *http.Client, jwksURL string) keySet {
	held := &heldKeys{}
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = keepKeys{base: base, jwksURL: jwksURL, held: held}
	return keySet{remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), &c), jwksURL), held: held}
}

// allAlgs are the signature algorithms a held key may verify with; the
// verifier has already held the token to the provider's own.
var allAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512,
	jose.PS256, jose.PS384, jose.PS512, jose.EdDSA}

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	if id, ok := keyID(jwt); ok && id != "" {
		if key, held := k.held.get(id); held {
			jws, err := jose.ParseSigned(jwt, allAlgs)
			if err != nil {
				return nil, fmt.Errorf("oidc: malformed jwt: %v", err)
			}
			payload, err := jws.Verify(key)
			if err != nil {
				return nil, errors.New("failed to verify id token signature")
			}
			return payload, nil
		}
	}
	payload, err := k.remote.VerifySignature(ctx, jwt)
	// go-oidc wraps an error (%w) only where fetching the keys failed
	// ("fetching keys …"); a malformed token or a signature no key
	// verifies is an error of its own (TestKeySetTellsAFetchApart).
	if inner := errors.Unwrap(err); inner != nil {
		if f, ok := ctx.Value(keyFetchKey{}).(*keyFetch); ok {
			f.err = keysFetchError(inner)
		}
	}
	return payload, err
}

type keyFetchKey struct{}

// keyFetch is what a verification found when it fetched the keys: err
// is nil unless the fetch failed.
type keyFetch struct{ err error }

// withKeyFetch is ctx for one verification, whose failed fetch of the
// keys is put in f.
func withKeyFetch(ctx context.Context, f *keyFetch) context.Context {
	return context.WithValue(ctx, keyFetchKey{}, f)
}

// keysFetchError is a failed fetch of the keys in words that may be
// logged: the status the provider answered ("503 Service Unavailable",
// which answeredStatus reads), never its body, which go-oidc puts in the
// error; or why no answer came.
func keysFetchError(err error) error {
	const answered = "oidc: get keys failed: "
	text := err.Error()
	if rest, ok := strings.CutPrefix(text, answered); ok && len(rest) >= 3 {
		if code, cerr := strconv.Atoi(rest[:3]); cerr == nil {
			return fmt.Errorf("%d %s", code, http.StatusText(code))
		}
	}
	if inner := errors.Unwrap(err); inner != nil {
		return inner // the request's own failure (connection refused, timeout)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return errors.New("the keys document could not be read")
}

// signingAlgs are the ID token signing algorithms the discovery document
// lists that go-oidc verifies, as its own verifier would take them (none:
// RS256 only).
func signingAlgs(prov *oidc.Provider) []string {
	var doc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = prov.Claims(&doc)
	var out []string
	for _, a := range doc.Algs {
		switch a {
		case oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA:
			out = append(out, a)
		}
	}
	return out
}

// heldKey says whether jwt names a key held: checking it fetches nothing.
func (k keySet) heldKey(jwt string) bool {
	id, ok := keyID(jwt)
	if !ok || id == "" {
		return false
	}
	_, held := k.held.get(id)
	return held
}

// keyID is the kid of a compact JWS's header ("" for none), and whether
// the header could be read at all.
func keyID(jwt string) (string, bool) {
	head, _, ok := strings.Cut(jwt, ".")
	if !ok || len(head) > 4096 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", false
	}
	var h struct {
		KeyID string `json:"kid"`
	}
	if json.Unmarshal(b, &h) != nil {
		return "", false
	}
	return h.KeyID, true
}
