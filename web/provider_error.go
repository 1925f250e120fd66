package web

import "strings"

// oauthErrors are the error codes a provider may send back to the
// callback: OAuth 2.0's (RFC 6749 section 4.1.2.1) and OpenID Connect's
// (Core section 3.1.2.6).
var oauthErrors = map[string]bool{
	"invalid_request": true, "unauthorized_client": true, "access_denied": true,
	"unsupported_response_type": true, "invalid_scope": true, "server_error": true,
	"temporarily_unavailable": true, "interaction_required": true, "login_required": true,
	"account_selection_required": true, "consent_required": true, "invalid_request_uri": true,
	"invalid_request_object": true, "request_not_supported": true, "request_uri_not_supported": true,
	"registration_not_supported": true,
}

// maxProviderError bounds what is kept of an error that is not one of
// the codes.
const maxProviderError = 40

// providerError is the reason recorded for a provider's error: the code
// when it is a known one, otherwise the start of it in printable ASCII
// only. Anyone can send a callback with any error, and the reason goes
// into the permanent trail and the log.
func providerError(e string) string {
	if oauthErrors[e] {
		return "provider returned error " + e
	}
	var b strings.Builder
	for _, r := range e {
		if b.Len() == maxProviderError {
			b.WriteString("...")
			break
		}
		if r < ' ' || r > '~' {
			r = '?'
		}
		b.WriteRune(r)
	}
	return "provider returned an unknown error " + b.String()
}
