package web

import (
	"context"
	"slices"
	"strings"

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
// says the email's domain is not verified by its tenant.
func identityFrom(cfg portal.IdPConfig, issuer, subject string, claims map[string]any) portal.Identity {
	id := portal.Identity{IdP: cfg.Name, Issuer: issuer, Subject: subject}
	id.Email, id.Name = emailAndName(cfg, claims)
	return id
}

func emailAndName(cfg portal.IdPConfig, claims map[string]any) (email, name string) {
	email, _ = claims[cfg.EmailClaim].(string)
	for _, c := range []string{"email_verified", "xms_edov"} {
		if verified, ok := claimBool(claims[c]); ok && !verified {
			email = ""
		}
	}
	name, _ = claims["name"].(string)
	return strings.TrimSpace(email), strings.TrimSpace(name)
}

// claimBool reads a boolean claim, which some providers send as a string.
func claimBool(v any) (value, ok bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		return b == "true", b == "true" || b == "false"
	}
	return false, false
}

// errUserinfoSubject refuses userinfo that speaks of someone else.
var errUserinfoSubject = signInError{reason: "userinfo subject differs from the id_token's"}

// addUserinfo fills the email and name the ID token lacked from the
// provider's userinfo endpoint, with the access token. A provider without
// userinfo leaves them empty; a userinfo that fails or names another
// subject refuses the sign-in.
func (s *Server) addUserinfo(ctx context.Context, p *identityProvider, d *discovered, tok *oauth2.Token, id *portal.Identity) error {
	if d.provider.UserInfoEndpoint() == "" {
		return nil
	}
	info, err := d.provider.UserInfo(p.context(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		s.log.Warn("userinfo failed", "idp", p.cfg.Name, "err", err)
		return signInError{reason: "userinfo failed"}
	}
	var claims map[string]any
	if err := info.Claims(&claims); err != nil {
		return signInError{reason: "unreadable userinfo"}
	}
	return mergeUserinfo(p.cfg, id, claims)
}

// mergeUserinfo takes the email and name the identity lacks from userinfo
// claims, which must be about the same subject.
func mergeUserinfo(cfg portal.IdPConfig, id *portal.Identity, claims map[string]any) error {
	if sub, _ := claims["sub"].(string); sub == "" || !constantTimeEqual(sub, id.Subject) {
		return errUserinfoSubject
	}
	email, name := emailAndName(cfg, claims)
	if id.Email == "" {
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
