package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// keySet is a provider's signing keys (go-oidc's remote key set, fetched
// when a token names a key not yet held) that tells a failure to fetch
// them apart from a token that does not verify: the verifier turns every
// failure into text, and only the first is the provider's, not the
// person's. A fetch that failed is put in the verification's keyFetch
// (withKeyFetch).
//
// It also holds the keys as last read at discovery (held), against which
// a logout token from an address held back for junk is checked with no
// fetch (admitsHeldBack).
type keySet struct {
	remote *oidc.RemoteKeySet
	url    string
	client *http.Client
	held   *atomic.Pointer[oidc.StaticKeySet] // nil inside: none read yet
	// readAt is when the held keys were last read because a token
	// verified with a key not held (unix nanoseconds): at most once a
	// minute.
	readAt *atomic.Int64
}

// newKeySet is the key set at jwksURL, fetched through client.
func newKeySet(client *http.Client, jwksURL string) keySet {
	return keySet{remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), jwksURL), url: jwksURL,
		client: client, held: &atomic.Pointer[oidc.StaticKeySet]{}, readAt: &atomic.Int64{}}
}

// heldReadEvery is how often a token verified with a key not held may
// have the held keys read again (the provider began signing with a new
// key between two discoveries).
const heldReadEvery = time.Minute

// maxHeldKeys bounds the keys held: a provider publishes a few.
const maxHeldKeys = 64

// readHeld reads the provider's published signing keys into held, as
// each discovery does once it has completed (a provider may be slow to
// answer its first request for keys: sign-in does not wait for it); a
// failure leaves those held before (held-back tokens wait for the next
// discovery).
func (k keySet) readHeld(ctx context.Context, client *http.Client) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	// Each key on its own: one the portal cannot read (a curve go-jose
	// does not know) is passed over, not the whole set.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set) != nil {
		return
	}
	held := &oidc.StaticKeySet{}
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if key.UnmarshalJSON(raw) != nil {
			continue
		}
		if (key.Use == "" || key.Use == "sig") && key.Valid() && key.IsPublic() && len(held.PublicKeys) < maxHeldKeys {
			switch key.Key.(type) {
			case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
				held.PublicKeys = append(held.PublicKeys, key.Key)
			}
		}
	}
	if len(held.PublicKeys) > 0 {
		k.held.Store(held)
	}
}

// readHeldSoon reads the held keys again in the background, unless they
// were read so within heldReadEvery.
func (k keySet) readHeldSoon() {
	last, now := k.readAt.Load(), time.Now().UnixNano()
	if now-last < int64(heldReadEvery) || !k.readAt.CompareAndSwap(last, now) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k.readHeld(ctx, k.client)
	}()
}

// admitsHeldBack says whether a token from an address held back for junk
// is to be checked all the same: only one that verifies against the keys
// held, with no fetch (go-oidc's key set fetches the keys again for any
// signature it cannot verify, so a token naming the provider's real key
// with a forged signature would cost a fetch). The provider's own logouts
// come through, whoever shares its address.
func (k keySet) admitsHeldBack(ctx context.Context, jwt string) bool {
	held := k.held.Load()
	if held == nil {
		return false
	}
	_, err := held.VerifySignature(ctx, jwt)
	return err == nil
}

// heldOnly is the held keys as a key set of their own: a token let
// through from a held-back address is checked against them alone, so
// that nothing it names makes the portal fetch the keys.
func (k keySet) heldOnly() oidc.KeySet { return heldKeys{k.held} }

type heldKeys struct {
	held *atomic.Pointer[oidc.StaticKeySet]
}

func (h heldKeys) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	held := h.held.Load()
	if held == nil {
		return nil, errors.New("no signing keys of the provider held")
	}
	return held.VerifySignature(ctx, jwt)
}

func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	if err == nil && !k.admitsHeldBack(ctx, jwt) {
		// Verified with a key not held: the provider signs with a new
		// one. Held-back logouts signed with it need it too.
		k.readHeldSoon()
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
