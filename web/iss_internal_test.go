package web

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// TestResponseIssuer: RFC 9207. A provider whose discovery document says
// it names itself in every authorization response
// (authorization_response_iss_parameter_supported) has a response without
// its iss refused before the code is exchanged; a response naming another
// issuer is refused whatever the provider says; a response naming the
// provider, or one without iss from a provider that does not name itself,
// goes on to the exchange. (Neither the dev provider nor Hydra names
// itself, so the first case is only here.)
func TestResponseIssuer(t *testing.T) {
	for _, tc := range []struct {
		name        string
		namesItself bool
		iss         string // "-": none
		want        string
	}{
		{"advertised, none given", true, "-", "authorization response without its issuer"},
		{"advertised, its own", true, "self", "code exchange refused"},
		{"advertised, another's", true, "https://other.example", "authorization response from another issuer"},
		{"not advertised, none given", false, "-", "code exchange refused"},
		{"not advertised, its own", false, "self", "code exchange refused"},
		{"not advertised, another's", false, "https://other.example", "authorization response from another issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exchanged := 0
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
				json.NewEncoder(w).Encode(map[string]any{
					"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
					"jwks_uri": srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
					"authorization_response_iss_parameter_supported": tc.namesItself,
				})
			})
			mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
				exchanged++
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":"invalid_grant"}`)
			})
			log := slog.New(slog.DiscardHandler)
			p := newIdentityProvider(portal.IdPConfig{Name: "cafcass", Issuer: srv.URL, ClientID: "portal", ClientSecret: "a-client-secret-of-at-least-32-bytes"},
				"http://portal.example", srv.Client(), time.Now, log)
			s := &Server{idps: map[string]*identityProvider{"cafcass": p}, log: log}
			q := url.Values{"code": {"the-code"}, "state": {"the-state"}}
			switch tc.iss {
			case "-":
			case "self":
				q.Set("iss", srv.URL)
			default:
				q.Set("iss", tc.iss)
			}
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodGet, "/auth/cafcass/callback?"+q.Encode(), nil)
			c.Params = gin.Params{{Key: "idp", Value: "cafcass"}}
			_, err := s.finishSignIn(c, pendingLogin{State: "the-state", Nonce: "n", Verifier: "v", IdP: "cafcass", ReturnTo: "/visits"})
			var se signInError
			if !errors.As(err, &se) || se.reason != tc.want {
				t.Fatalf("refused with %v, want %q", err, tc.want)
			}
			if wantExchange := tc.want == "code exchange refused"; (exchanged > 0) != wantExchange {
				t.Fatalf("the code was exchanged %d times (want it exchanged: %v)", exchanged, wantExchange)
			}
		})
	}
}
