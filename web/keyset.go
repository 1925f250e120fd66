package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
)

// keySet is a provider's signing keys (go-oidc's remote key set, fetched
// when a token names a key not yet held) that tells a failure to fetch
// them apart from a token that does not verify: the verifier turns every
// failure into text, and only the first is the provider's, not the
// person's. A fetch that failed is put in the verification's keyFetch
// (withKeyFetch).
//
// It also keeps the ids of the keys that have verified a token (verified):
// a token naming one of them is checked against keys already held, with
// no fetch, however many junk tokens its sender's address has sent.
type keySet struct {
	remote   *oidc.RemoteKeySet
	url      string
	verified *sync.Map // key id ("" for none) → struct{}
}

// newKeySet is the key set at jwksURL, fetched through client.
func newKeySet(client *http.Client, jwksURL string) keySet {
	return keySet{remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), jwksURL), url: jwksURL, verified: &sync.Map{}}
}

// keepVerified carries the key ids that have verified tokens over from
// the key set a discovery replaces, when the keys are still published at
// the same address: a discovery read again (hourly) must not forget them,
// or the provider's logouts from a held-back address are refused until
// someone signs in again.
func (k *keySet) keepVerified(old keySet) {
	if old.verified != nil && old.url == k.url {
		k.verified = old.verified
	}
}

// maxVerifiedKeys bounds the key ids kept: a provider publishes a few.
const maxVerifiedKeys = 64

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err == nil {
		if id, ok := keyID(jwt); ok && k.verifiedCount() < maxVerifiedKeys {
			k.verified.Store(id, struct{}{})
		}
	}
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

// heldKey says whether jwt names a key that has verified a token before:
// checking it fetches nothing (unless the provider has since dropped the
// key, which a fetch then finds).
func (k keySet) heldKey(jwt string) bool {
	id, ok := keyID(jwt)
	if !ok {
		return false
	}
	_, held := k.verified.Load(id)
	return held
}

func (k keySet) verifiedCount() int {
	n := 0
	k.verified.Range(func(any, any) bool { n++; return true })
	return n
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
