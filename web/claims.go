package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/ofsted-portal/evidence/portal"
)

// Reading what a provider says about a person: the configured email claim
// and name from the ID token, else from userinfo (whose subject must be the
// ID token's), and the acr and amr claims a provider may be required to
// give.

// identityFrom reads the person from the ID token's claims. An email the
// provider says is unverified binds nothing: email_verified false, or (Entra
// ID, which sends no email_verified) the optional claim xms_edov false, which
// says the email's domain is not verified by its tenant. It also returns
// what the token says of the email, which decides whether userinfo may give
// one (mergeUserinfo).
func identityFrom(cfg portal.IdPConfig, issuer, subject string, claims map[string]any) (portal.Identity, emailVerdict) {
	id := portal.Identity{IdP: cfg.Name, Issuer: issuer, Subject: subject}
	var v emailVerdict
	id.Email, id.Name, v = emailAndName(cfg, claims)
	return id, v
}

// emailVerdict is what a set of claims says of the person's email.
type emailVerdict int

const (
	emailUnstated   emailVerdict = iota // no verification claim
	emailVerified                       // a verification claim true, none false
	emailUnverified                     // a verification claim false
)

func emailAndName(cfg portal.IdPConfig, claims map[string]any) (email, name string, v emailVerdict) {
	email, _ = claims[cfg.EmailClaim].(string)
	for _, c := range []string{"email_verified", "xms_edov"} {
		value, stated := claims[c]
		switch {
		case !stated:
		case !claimTrue(value):
			v = emailUnverified
		case v == emailUnstated:
			v = emailVerified
		}
	}
	if v == emailUnverified {
		email = ""
	}
	name, _ = claims["name"].(string)
	return strings.TrimSpace(email), strings.TrimSpace(name), v
}

// claimTrue reads a boolean claim, which some providers send as a string.
// Only true says yes: any other value a verification claim may have
// (false, "False", 0, null) says the email is not verified, never that
// nothing was said.
func claimTrue(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

// errUserinfoSubject refuses userinfo that speaks of someone else.
var errUserinfoSubject = signInError{reason: "userinfo subject differs from the id_token's"}

// addUserinfo fills the email and name the ID token lacked from the
// provider's userinfo endpoint, with the access token. A provider without
// userinfo leaves them empty; a userinfo that cannot be reached or answers
// 5xx is the provider unavailable (providerFailed); one that refuses or
// names another subject refuses the sign-in.
func (s *Server) addUserinfo(c *gin.Context, p *identityProvider, d *discovered, tok *oauth2.Token, id *portal.Identity, token emailVerdict) error {
	if d.provider.UserInfoEndpoint() == "" {
		return nil
	}
	info, err := d.provider.UserInfo(p.context(c.Request.Context()), oauth2.StaticTokenSource(tok))
	if providerFailed(err) {
		return s.unavailableAt(c, "userinfo", err)
	}
	if err != nil {
		// go-oidc's error quotes a refusal's body, which may hold
		// anything: the log gets the status only.
		answer := "unreadable answer"
		if code := answeredStatus(err); code > 0 {
			answer = strconv.Itoa(code) + " " + http.StatusText(code)
		}
		s.log.Warn("userinfo failed", "idp", p.cfg.Name, "answer", answer)
		return signInError{reason: "userinfo failed"}
	}
	var claims map[string]any
	if err := info.Claims(&claims); err != nil {
		return signInError{reason: "unreadable userinfo"}
	}
	return mergeUserinfo(p.cfg, id, token, claims)
}

// mergeUserinfo takes the email and name the identity lacks from userinfo
// claims, which must be about the same subject. token is what the ID token
// said of the email: when it said unverified, a userinfo that says nothing
// cannot bring the email back, only one that itself says it is verified.
func mergeUserinfo(cfg portal.IdPConfig, id *portal.Identity, token emailVerdict, claims map[string]any) error {
	if sub, _ := claims["sub"].(string); sub == "" || !constantTimeEqual(sub, id.Subject) {
		return errUserinfoSubject
	}
	email, name, v := emailAndName(cfg, claims)
	if id.Email == "" && (v == emailVerified || v == emailUnstated && token != emailUnverified) {
		id.Email = email
	}
	if id.Name == "" {
		id.Name = name
	}
	return nil
}

// checkFactors refuses a token without the acr or amr the provider is
// required to give.
func checkFactors(cfg portal.IdPConfig, claims map[string]any) error {
	if len(cfg.RequireACR) > 0 {
		acr, _ := claims["acr"].(string)
		if !slices.Contains(cfg.RequireACR, acr) {
			return signInError{reason: "acr " + quoteClaim(acr) + " is not one of " + strings.Join(cfg.RequireACR, " "), secondFactor: true}
		}
	}
	if cfg.RequireAMR != "" {
		amr := claimStrings(claims["amr"])
		if !slices.Contains(amr, cfg.RequireAMR) {
			return signInError{reason: "amr [" + strings.Join(amr, " ") + "] lacks " + cfg.RequireAMR, secondFactor: true}
		}
	}
	return nil
}

func quoteClaim(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// claimStrings reads an array of strings (or one string) claim.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
