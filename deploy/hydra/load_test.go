package hydra

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestHydraUnderLoad: started while the machine is busy (as when both
// databases' passes of make test run side by side), Hydra answers every
// one of many concurrent requests (discovery, the key set, the admin API
// reading and writing) and keeps what it was told before them: its keys
// are made once, at start, and its database outlives its connections.
func TestHydraUnderLoad(t *testing.T) {
	stop := make(chan struct{})
	var spinning sync.WaitGroup
	for range 3 * runtime.NumCPU() {
		spinning.Add(1)
		go func() {
			defer spinning.Done()
			for n := 0; ; n++ {
				if n%1024 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}()
	}
	// However the test ends (skipped, failed), the spinning stops with it.
	stopSpinning := sync.OnceFunc(func() { close(stop); spinning.Wait() })
	defer stopSpinning()
	h := start(t)
	ctx := context.Background()
	kids := func() []string {
		t.Helper()
		var set struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		if err := getJSON(ctx, h.issuer+".well-known/jwks.json", &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KID)
		}
		slices.Sort(out)
		return out
	}
	before := kids()
	if err := h.CreateClient(ctx, Client{ID: "made-before", Secret: "a-secret-of-enough-length", RedirectURIs: []string{"http://127.0.0.1/cb"}}); err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				var err error
				switch i % 4 {
				case 0:
					err = getJSON(ctx, h.issuer+".well-known/openid-configuration", &map[string]any{})
				case 1:
					err = getJSON(ctx, h.issuer+".well-known/jwks.json", &map[string]any{})
				case 2:
					err = h.admin(ctx, http.MethodGet, "/admin/clients", nil, nil, &[]map[string]any{})
				case 3:
					err = h.CreateClient(ctx, Client{ID: fmt.Sprintf("c-%d-%d", g, i), Secret: "a-secret-of-enough-length", RedirectURIs: []string{"http://127.0.0.1/cb"}})
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	wg.Wait()
	stopSpinning()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 320 requests failed, the first: %v", n, first.Load())
	}
	var c map[string]any
	if err := h.admin(ctx, http.MethodGet, "/admin/clients/made-before", nil, nil, &c); err != nil {
		t.Errorf("the client made before the requests: %v", err)
	}
	if after := kids(); !slices.Equal(before, after) {
		t.Errorf("Hydra's published keys went from %v to %v during the requests: want them made once, at start", before, after)
	}
}
