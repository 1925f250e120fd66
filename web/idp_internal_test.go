package web

import "testing"

// TestEndSessionOrigin: only an absolute address of one exact origin is
// let into form-action; anything else leaves sign-out local.
func TestEndSessionOrigin(t *testing.T) {
	for _, tc := range []struct{ issuer, endpoint, want string }{
		{"https://login.example/realms/x", "https://logout.example/oidc/logout?x=1", "https://logout.example"},
		{"https://login.example", "https://LOGOUT.example:8443/end", "https://logout.example:8443"},
		{"http://127.0.0.1:5556/dev", "http://127.0.0.1:5557/logout", "http://127.0.0.1:5557"},
		{"https://login.example", "https://[2001:db8::1]/logout", "https://[2001:db8::1]"},
		{"https://login.example", "http://logout.example/end", ""},
		{"https://login.example", "https://*.example/end", ""},
		{"https://login.example", "*", ""},
		{"https://login.example", "/logout", ""},
		{"https://login.example", "https://logout.example;script-src/x", ""},
		{"https://login.example", "https://user:pw@logout.example/end", ""},
		{"https://login.example", "javascript:alert(1)", ""},
		{"https://login.example", "data:text/html,x", ""},
		{"https://login.example", "https://logout.example%20'unsafe-inline'/", ""},
	} {
		if got := endSessionOrigin(tc.issuer, tc.endpoint); got != tc.want {
			t.Errorf("endSessionOrigin(%q, %q) = %q, want %q", tc.issuer, tc.endpoint, got, tc.want)
		}
	}
}
