package web_test

import (
	"net/http"
	"testing"
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
	r = decode[readyResp](t, b.get("/readyz"), http.StatusServiceUnavailable)
	if r.Ready || r.Checks["storage"] != "failing" || r.Checks["database"] != "ok" {
		t.Fatalf("with storage down: %+v", r)
	}
	if resp := b.get("/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz %d: liveness must not depend on storage", resp.StatusCode)
	}
}
