package web

import (
	"context"
	"errors"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// idTokenSkew is how far ahead of the portal's clock a provider's may be
// when it issues an ID token: the leeway go-oidc gives nbf, and the usual
// default of relying parties' libraries. More lenient than a logout
// token's: a provider's clock a few minutes out should not stop everyone
// signing in.
const idTokenSkew = 5 * time.Minute

// maxSubject bounds sub (OpenID Connect Core section 2: at most 255 ASCII
// characters).
const maxSubject = maxLogoutClaim

// verifyIDToken checks raw as the ID token of the sign-in whose nonce is
// given, issued with accessToken, for the portal's client id, at now
// (OpenID Connect Core section 3.1.3.7): v checks its signature, issuer,
// audience and expiry, the rest is checked here. It returns the token and
// its claims; a refusal is a signInError whose reason never quotes the
// token.
func verifyIDToken(ctx context.Context, v *oidc.IDTokenVerifier, raw, accessToken, clientID, nonce string, now time.Time) (*oidc.IDToken, map[string]any, error) {
	var fetch keyFetch
	idt, err := v.Verify(withKeyFetch(ctx, &fetch), raw)
	if err != nil {
		if fetch.err != nil {
			return nil, nil, keysUnavailable{fetch.err}
		}
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, nil, signInError{reason: "id_token expired"}
		}
		return nil, nil, signInError{reason: "id_token did not verify"}
	}
	// go-oidc leaves the nonce to us.
	if idt.Nonce == "" || !constantTimeEqual(idt.Nonce, nonce) {
		return nil, nil, signInError{reason: "nonce mismatch"}
	}
	// Nor does it require a subject, by which the person is known: from a
	// provider that left it out (misconfigured: its claim mappers are
	// settings), everyone who signs in there would be one user.
	if idt.Subject == "" || len(idt.Subject) > maxSubject {
		return nil, nil, signInError{reason: "id_token sub is not a string of 1 to 255 characters"}
	}
	// at_hash is optional in the code flow; one that is there binds the
	// access token (which asks userinfo) to this ID token.
	if idt.AccessTokenHash != "" && idt.VerifyAccessToken(accessToken) != nil {
		return nil, nil, signInError{reason: "id_token at_hash is not the access token's"}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, signInError{reason: "unreadable claims"}
	}
	// go-oidc checks only that the portal is one of the audiences. A
	// token for others too must say it was issued to the portal (azp),
	// and one that names whom it was issued to must name the portal.
	azp, hasAZP := claims["azp"]
	switch {
	case hasAZP && azp != clientID:
		return nil, nil, signInError{reason: "id_token azp is not the portal"}
	case len(idt.Audience) > 1 && !hasAZP:
		return nil, nil, signInError{reason: "id_token has several audiences and no azp"}
	}
	// Nor does it check iat, which a token must carry: one issued ahead of
	// the portal's clock by more than the skew is from a provider whose
	// clock is wrong, and its exp cannot be trusted either.
	switch {
	case idt.IssuedAt.IsZero():
		return nil, nil, signInError{reason: "id_token has no iat"}
	case idt.IssuedAt.After(now.Add(idTokenSkew)):
		return nil, nil, signInError{reason: "id_token issued in the future"}
	}
	return idt, claims, nil
}

// keysUnavailable is an ID token that could not be verified because the
// provider's signing keys could not be fetched: the provider failed, not
// the person (the callback answers it as unavailable, "keys").
type keysUnavailable struct{ cause error }

func (e keysUnavailable) Error() string {
	return "identity provider keys unavailable: " + e.cause.Error()
}
func (e keysUnavailable) Unwrap() error { return e.cause }
