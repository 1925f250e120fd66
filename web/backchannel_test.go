package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBackChannelLogoutRefusals: the back-channel logout endpoint answers
// a refused token 400 with a JSON error (error, error_description) that is
// never cached, as Back-Channel Logout 1.0 section 2.8 says (a provider's
// server sends no Origin or Sec-Fetch-Site, and the cross-origin check
// lets it through; a browser's post from another site is refused, as on
// every unsafe route); an address that names no provider
// 404; and an address that keeps sending refused tokens is held back
// (429), leaving sign-in alone.
func TestBackChannelLogoutRefusals(t *testing.T) {
	ts := startStack(t)
	post := func(idp, token string) (*http.Response, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.PortalURL+"/auth/"+idp+"/backchannel-logout", strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("the answer (%d) is not a JSON object: %v", resp.StatusCode, err)
		}
		return resp, body
	}
	resp, body := post("ofsted", "not-a-token")
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(body["error_description"], "did not verify") {
		t.Errorf("a bad token: %d %v", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	if resp, body := post("ofsted", ""); resp.StatusCode != http.StatusBadRequest || body["error_description"] != "no logout_token" {
		t.Errorf("no token: %d %v", resp.StatusCode, body)
	}
	if resp, body := post("nobody", "not-a-token"); resp.StatusCode != http.StatusNotFound || body["error"] != "invalid_request" {
		t.Errorf("an unknown provider: %d %v", resp.StatusCode, body)
	}

	// 30 refusals a minute, then 429 until the rate allows.
	var limited *http.Response
	for i := 0; i < 40 && limited == nil; i++ {
		if resp, _ := post("ofsted", "not-a-token"); resp.StatusCode == http.StatusTooManyRequests {
			limited = resp
		}
	}
	if limited == nil || limited.Header.Get("Retry-After") == "" {
		t.Fatalf("40 refused tokens were never held back: %v", limited)
	}
	ts.signIn(t, "ofsted", "hmi@ofsted.example") // sign-in from the same address goes on
}
