package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// TestReadyzKeepsProviderAnswersPrivate: /readyz answers anyone, so what
// it says of a provider whose discovery fails is the portal's sentence
// (where it looked, the status it got), never the provider's own answer,
// which can name internal hosts; the log keeps that for the operator.
func TestReadyzKeepsProviderAnswersPrivate(t *testing.T) {
	const secret = "upstream idp-backend-07.corp.internal:8443 refused: java.lang.IllegalStateException"
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, secret, http.StatusBadGateway)
	}))
	defer idp.Close()
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted", "PORTAL_IDP_DISCOVERY_INTERVAL": "1s"}
	idpEnv(env, "broken", idp.URL+"/realms/x", portal.OrgProvider)
	ts := startStackWith(t, env)
	anon := ts.newBrowser(t)
	var problem string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp := anon.get("/readyz")
		var r struct {
			Degraded map[string]string `json:"degraded"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if p := r.Degraded["idp:broken"]; p != "" && !strings.Contains(p, "has not completed yet") {
			problem = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broken provider is not degraded: %v", r.Degraded)
		}
	}
	if strings.Contains(problem, "corp.internal") || strings.Contains(problem, "java.lang") {
		t.Errorf("/readyz shows anyone the provider's answer: %q", problem)
	}
	if !strings.Contains(problem, idp.URL+"/realms/x/.well-known/openid-configuration") || !strings.Contains(problem, "502") {
		t.Errorf("/readyz does not say where discovery failed and how: %q", problem)
	}
	if !strings.Contains(ts.log.String(), "corp.internal") {
		t.Error("the log does not keep the provider's answer for the operator")
	}
}
