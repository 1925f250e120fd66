package web_test

import (
	"net/http"
	"testing"
	"time"
)

type readyResp struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func TestReadiness(t *testing.T) {
	ts := startStack(t)
	b := ts.newBrowser(t)
	r := decode[readyResp](t, b.get("/readyz"), http.StatusOK)
	if !r.Ready || r.Checks["database"] != "ok" || r.Checks["storage"] != "ok" || r.Checks["key"] != "ok" {
		t.Fatalf("ready = %+v", r)
	}
	ts.MinIO.Stop()
	// Readiness serves the latest background checks: within seconds it
	// says the portal is not ready, and then which check failed.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp := b.get("/readyz")
		if resp.StatusCode == http.StatusServiceUnavailable {
			r = decode[readyResp](t, resp, http.StatusServiceUnavailable)
			if r.Checks["storage"] == "failing" {
				break
			}
		} else {
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d %+v with storage down", resp.StatusCode, r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.Ready || r.Checks["storage"] != "failing" || r.Checks["database"] != "ok" {
		t.Fatalf("with storage down: %+v", r)
	}
	if resp := b.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d: liveness must not depend on storage", resp.StatusCode)
	}
}
