// Package devidp is a development OpenID Provider: FOR DEVELOPMENT AND TESTS
// ONLY. It serves several issuers under one base URL (BaseURL/<name>), each
// with fixed demo accounts, a plain HTML login form, discovery, JWKS, the
// authorization code flow with PKCE, userinfo and end-session. It is built on
// zitadel/oidc's op package, so relying parties talk to a real provider.
//
// Everything is kept in memory: signing keys are generated at start, and
// auth requests, codes and tokens vanish on restart. Account subjects are
// fixed, so users keep their identity across restarts.
package devidp

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Account is one person who can sign in.
type Account struct {
	Username string
	Password string
	Subject  string // stable "sub" claim
	Email    string
	Name     string
	// ACR and AMR are the acr and amr claims of the account's ID tokens
	// (AMR empty: ["pwd"]), so that a relying party's multi-factor check
	// can be shown working.
	ACR string
	AMR []string
}

// Client is a registered relying party.
type Client struct {
	ID                     string
	Secret                 string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// ClaimsOnlyFromUserinfo keeps email and name out of the ID token, as
	// many providers do: the relying party must read them from userinfo.
	ClaimsOnlyFromUserinfo bool
}

// Issuer is one provider served under BaseURL/<Name>.
type Issuer struct {
	Name     string
	Accounts []Account
	Clients  []Client
}

// Config is the whole development provider.
type Config struct {
	BaseURL             string // no trailing slash
	Issuers             []Issuer
	IDTokenLifetime     time.Duration // default 5 minutes
	AccessTokenLifetime time.Duration // default 5 minutes
}

// New returns one handler serving every issuer.
func New(cfg Config) (http.Handler, error) {
	if cfg.IDTokenLifetime == 0 {
		cfg.IDTokenLifetime = 5 * time.Minute
	}
	if cfg.AccessTokenLifetime == 0 {
		cfg.AccessTokenLifetime = 5 * time.Minute
	}
	mux := http.NewServeMux()
	for _, iss := range cfg.Issuers {
		issuerURL := strings.TrimRight(cfg.BaseURL, "/") + "/" + iss.Name
		st, err := newStorage(iss, issuerURL, cfg)
		if err != nil {
			return nil, err
		}
		var key [32]byte
		rand.Read(key[:])
		provider, err := op.NewProvider(&op.Config{
			CryptoKey:                key,
			CryptoKeyId:              "dev",
			DefaultLogoutRedirectURI: "/" + iss.Name + "/logged-out",
			CodeMethodS256:           true,
			AuthMethodPost:           true,
			SupportedUILocales:       []language.Tag{language.English},
		}, st, op.StaticIssuer(issuerURL), op.WithAllowInsecure())
		if err != nil {
			return nil, fmt.Errorf("devidp: issuer %s: %w", iss.Name, err)
		}
		l := &login{
			issuer:   iss.Name,
			storage:  st,
			callback: op.AuthCallbackURL(provider),
			action:   "/" + iss.Name + "/login",
		}
		prefix := "/" + iss.Name
		interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
		mux.HandleFunc("GET "+prefix+"/login", l.show)
		mux.Handle("POST "+prefix+"/login", interceptor.HandlerFunc(l.submit))
		mux.HandleFunc("GET "+prefix+"/logged-out", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintln(w, "Signed out of the development identity provider.")
		})
		mux.Handle(prefix+"/", http.StripPrefix(prefix, provider))
	}
	return mux, nil
}
