package portal

import (
	"net/url"
	"strings"

	"github.com/ofsted-portal/evidence/policy"
)

// IdPConfig is one OpenID Provider users may sign in with.
type IdPConfig struct {
	Name         string // path segment: /auth/{Name}/login
	DisplayName  string
	Issuer       string // exactly as the provider's discovery document states it
	ClientID     string
	ClientSecret string
	EmailClaim   string // read from the ID token, else from userinfo
	// Organisation is "provider" (the inspected body's staff) or
	// "inspectorate": it decides which visit roles an email may bind to.
	Organisation string
	// Logout is how sign-out reaches the provider: LogoutRPInitiated,
	// LogoutNoRedirect or LogoutLocal.
	Logout string
	// RequireACR lists the acr values accepted (and asked for with
	// acr_values); empty: any. RequireAMR is an amr value the ID token
	// must carry (such as "mfa"); empty: none.
	RequireACR []string
	RequireAMR string
}

// MayHold reports whether people who sign in with p may hold the visit
// role: a provider's issuer only the provider's roles, the inspectorate's
// only the others. Sign-in binds, administrators add and every request
// takes a membership by this one rule.
func (p IdPConfig) MayHold(role string) bool {
	return policy.IsProviderRole(role) == (p.Organisation == OrgProvider)
}

// Organisations an identity provider can serve.
const (
	OrgProvider     = "provider"
	OrgInspectorate = "inspectorate"
)

// Sign-out modes (PORTAL_IDP_<NAME>_LOGOUT).
const (
	// LogoutRPInitiated sends the browser to the provider's end-session
	// endpoint with id_token_hint and the post-logout redirect URI.
	LogoutRPInitiated = "rp-initiated"
	// LogoutNoRedirect sends it there without a post-logout redirect URI,
	// for providers where none can be registered.
	LogoutNoRedirect = "no-redirect"
	// LogoutLocal ends the portal's session only, and says so.
	LogoutLocal = "local"
)

func loadIdP(e *envReader, name string) IdPConfig {
	p := "PORTAL_IDP_" + strings.ToUpper(name) + "_"
	return IdPConfig{
		Name:         name,
		DisplayName:  e.str(p+"DISPLAY_NAME", name),
		Issuer:       e.str(p+"ISSUER", ""),
		ClientID:     e.str(p+"CLIENT_ID", ""),
		ClientSecret: e.secret(p + "CLIENT_SECRET"),
		EmailClaim:   e.str(p+"EMAIL_CLAIM", "email"),
		Organisation: e.str(p+"ORGANISATION", ""),
		Logout:       e.str(p+"LOGOUT", LogoutRPInitiated),
		RequireACR:   strings.Fields(e.get(p + "REQUIRE_ACR")),
		RequireAMR:   strings.TrimSpace(e.get(p + "REQUIRE_AMR")),
	}
}

func (p IdPConfig) validate(e *envReader, dev bool) {
	pre := "PORTAL_IDP_" + strings.ToUpper(p.Name) + "_"
	if !validName(p.Name) {
		e.fail("identity provider name %q must be lower-case letters, digits and '-'", p.Name)
	}
	if u, err := url.Parse(p.Issuer); err != nil || u.Scheme == "" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		e.fail("%sISSUER must be the provider's issuer URL, without a query or fragment", pre)
	} else if u.Scheme != "https" && !dev {
		e.fail("%sISSUER must be an https URL outside development, got %q", pre, p.Issuer)
	}
	if p.ClientID == "" {
		e.fail("%sCLIENT_ID is required", pre)
	}
	if p.ClientSecret == "" {
		e.fail("%sCLIENT_SECRET (or %sCLIENT_SECRET_FILE) is required", pre, pre)
	}
	if p.Organisation != OrgProvider && p.Organisation != OrgInspectorate {
		e.fail("%sORGANISATION must be %q or %q", pre, OrgProvider, OrgInspectorate)
	}
	switch p.Logout {
	case LogoutRPInitiated, LogoutNoRedirect, LogoutLocal:
	default:
		e.fail("%sLOGOUT must be %q, %q or %q, got %q", pre, LogoutRPInitiated, LogoutNoRedirect, LogoutLocal, p.Logout)
	}
	if strings.ContainsAny(p.RequireAMR, " \t,") {
		e.fail("%sREQUIRE_AMR must be one amr value, such as mfa, got %q", pre, p.RequireAMR)
	}
	if strings.ContainsAny(p.EmailClaim, " \t,") {
		e.fail("%sEMAIL_CLAIM must be one claim name, got %q", pre, p.EmailClaim)
	}
}
