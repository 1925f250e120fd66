package hydra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// User is an account of the login app.
type User struct {
	Username, Password string
	Subject            string // the sub claim; empty: the username
	Email, Name        string
	EmailUnverified    bool     // email_verified false instead of true
	AMR                []string // the amr claim, as given to Hydra at login
	ACR                string   // the acr claim
}

// AddUser registers a user (replacing one with the same username).
func (h *Hydra) AddUser(u User) {
	if u.Subject == "" {
		u.Subject = u.Username
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users[u.Username] = u
}

// RefuseConsent makes the consent app reject every later consent of the
// user: Hydra then sends the browser to the client's redirect URI with
// error=access_denied.
func (h *Hydra) RefuseConsent(username string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refused[username] = true
}

// userBySubject returns the user with that subject and whether their
// consent is refused.
func (h *Hydra) userBySubject(sub string) (u User, refused, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.users {
		if u.Subject == sub {
			return u, h.refused[u.Username], true
		}
	}
	return User{}, false, false
}

func (h *Hydra) user(username string) (User, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, ok := h.users[username]
	return u, ok
}

// Client is an OAuth 2.0 client registered at Hydra: a confidential client
// (client_secret_basic) of the authorization code flow, with refresh
// tokens; PKCE is accepted.
type Client struct {
	ID, Secret             string // Hydra wants a secret of 6 characters or more
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Scopes                 []string // empty: openid, email, profile, offline_access
	// NoEmailInIDToken keeps email, email_verified and name out of the ID
	// token; userinfo still returns them. Providers that put only the
	// subject in the ID token behave so.
	NoEmailInIDToken bool
	// BackChannelLogoutURI is where Hydra posts a logout token when a
	// login session the client signed in under ends (OpenID Connect
	// Back-Channel Logout 1.0); BackChannelLogoutSessionRequired asks it
	// to name the session (sid), as Hydra's tokens always do.
	BackChannelLogoutURI             string
	BackChannelLogoutSessionRequired bool
}

// noEmailKey is the client metadata that tells the consent app to keep the
// email out of the ID token: the setting lives in Hydra with the client.
const noEmailKey = "no_email_in_id_token"

// CreateClient registers the client through Hydra's admin API.
func (h *Hydra) CreateClient(ctx context.Context, c Client) error {
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "profile", "offline_access"}
	}
	body := map[string]any{
		"client_id":                  c.ID,
		"client_secret":              c.Secret,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"redirect_uris":              c.RedirectURIs,
		"post_logout_redirect_uris":  c.PostLogoutRedirectURIs,
		"scope":                      strings.Join(scopes, " "),
		"token_endpoint_auth_method": "client_secret_basic",
		"metadata":                   map[string]any{noEmailKey: c.NoEmailInIDToken},
	}
	if c.BackChannelLogoutURI != "" {
		body["backchannel_logout_uri"] = c.BackChannelLogoutURI
		body["backchannel_logout_session_required"] = c.BackChannelLogoutSessionRequired
	}
	if err := h.admin(ctx, http.MethodPost, "/admin/clients", nil, body, nil); err != nil {
		return fmt.Errorf("hydra: create client %s: %w", c.ID, err)
	}
	return nil
}

// LoginSessions returns the ids of the login sessions Hydra began for the
// subject through the login app (the sid its ID tokens carry), oldest
// first.
func (h *Hydra) LoginSessions(subject string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.sessions[subject]...)
}

// EndLoginSession ends one login session through the admin API, as an
// operator of the provider would (a person deleted, or signed out
// everywhere): Hydra then posts a logout token naming it to the
// back-channel logout URI of each client signed in under it, in the
// background.
func (h *Hydra) EndLoginSession(ctx context.Context, sid string) error {
	if err := h.admin(ctx, http.MethodDelete, "/admin/oauth2/auth/sessions/login", url.Values{"sid": {sid}}, nil, nil); err != nil {
		return fmt.Errorf("hydra: end login session: %w", err)
	}
	return nil
}

// admin calls Hydra's admin API with a JSON body (when in is not nil) and
// decodes a JSON answer into out (when not nil).
func (h *Hydra) admin(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := h.adminURL + path
	if query != nil {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(req, out)
}

// client sends each request to Hydra on a connection of its own: a
// connection kept from an earlier request, closed by Hydra as this one
// was sent, fails a POST with EOF (Go does not send it again), which made
// a test's key rotation fail on a loaded machine.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// do sends the request and decodes a 2xx JSON answer into out; any other
// status is an error that quotes Hydra's answer.
func do(req *http.Request, out any) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	return do(req, out)
}

// idTokenKeys is the key set Hydra signs ID tokens and logout tokens with.
const idTokenKeys = "hydra.openid.id-token"

// RotateSigningKey rotates the keys Hydra signs ID tokens with, as its
// operator would after a key is suspected: a new key is made and every
// other one of the set deleted, so tokens from now on carry a key id that
// relying parties have not seen, and the old keys are gone from its JWKS.
// It returns the new key's id and the deleted ones'.
func (h *Hydra) RotateSigningKey(ctx context.Context) (kid string, deleted []string, err error) {
	var before struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := h.admin(ctx, http.MethodGet, "/admin/keys/"+idTokenKeys, nil, nil, &before); err != nil {
		return "", nil, fmt.Errorf("hydra: read signing keys: %w", err)
	}
	kid = fmt.Sprintf("rotated-%d", time.Now().UnixNano())
	if err := h.admin(ctx, http.MethodPost, "/admin/keys/"+idTokenKeys, nil, map[string]string{"alg": "RS256", "kid": kid, "use": "sig"}, nil); err != nil {
		// An RSA key takes Hydra seconds on a loaded machine: an answer
		// lost on the way may still have made it. Made, it is used;
		// not, it is asked for once more.
		var after struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		made := false
		if gerr := h.admin(ctx, http.MethodGet, "/admin/keys/"+idTokenKeys, nil, nil, &after); gerr == nil {
			for _, k := range after.Keys {
				made = made || k.KID == kid
			}
		}
		if !made {
			if err := h.admin(ctx, http.MethodPost, "/admin/keys/"+idTokenKeys, nil, map[string]string{"alg": "RS256", "kid": kid, "use": "sig"}, nil); err != nil {
				return "", nil, fmt.Errorf("hydra: make a signing key: %w", err)
			}
		}
	}
	for _, k := range before.Keys {
		if err := h.admin(ctx, http.MethodDelete, "/admin/keys/"+idTokenKeys+"/"+url.PathEscape(k.KID), nil, nil, nil); err != nil {
			return "", nil, fmt.Errorf("hydra: delete signing key %s: %w", k.KID, err)
		}
		deleted = append(deleted, k.KID)
	}
	return kid, deleted, nil
}
