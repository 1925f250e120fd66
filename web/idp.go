package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ofsted-portal/evidence/portal"
)

// identityProvider is one configured OpenID Provider. Its discovery document
// is fetched at start-up and then on a schedule (Server.discoverProviders);
// each fetch builds a new immutable discovered value that sign-ins read with
// one atomic load. No lock is held while the network is waited on: a
// sign-in that finds the provider not yet discovered waits at most
// inFlightWait for a discovery in flight (right after start-up the first one
// is usually milliseconds from done), or, when none has been tried for
// retryAfter, tries one itself for at most onDemandTimeout (a provider that
// came back is usable at once, not at the next scheduled try); otherwise it
// is told at once that the provider is unavailable.
type identityProvider struct {
	cfg       portal.IdPConfig
	publicURL string
	client    *http.Client
	now       func() time.Time
	log       *slog.Logger

	current  atomic.Pointer[discovered]
	problem  atomic.Pointer[string]        // why the last discovery failed; nil: it worked
	inFlight atomic.Pointer[chan struct{}] // closed when the discovery in flight ends
	lastTry  atomic.Int64                  // when the last discovery ended (Unix nanoseconds)
	// misconfigured says the last discovery found a configuration error
	// (the issuer), which no retry mends.
	misconfigured atomic.Bool
	// lastErr keeps the log quiet: a failure is logged as an error when it
	// first happens (or changes) and at debug level while it lasts.
	mu      sync.Mutex
	lastErr string
	// changed is called after each discovery that worked (the server
	// keeps its Content-Security-Policy in step).
	changed func()
}

// discovered is what a provider's discovery document said.
type discovered struct {
	provider *oidc.Provider
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	// logoutVerifier checks a logout token's signature, issuer and
	// audience with the same keys; its iat and exp are checked apart
	// (verifyLogoutToken), as a logout token need not carry exp.
	logoutVerifier *oidc.IDTokenVerifier
	// heldLogoutVerifier is logoutVerifier over the keys held since
	// discovery alone (no fetch): for a token from a held-back address.
	heldLogoutVerifier *oidc.IDTokenVerifier
	// keys are the verifiers' keys.
	keys       keySet
	endSession string
	// namesItself: the provider says it names itself in every
	// authorization response (RFC 9207's iss), so one without it is not
	// its own.
	namesItself bool
}

// discoveryTimeout bounds one fetch of a discovery document, and
// inFlightWait how long a sign-in waits for someone else's.
const (
	discoveryTimeout = 10 * time.Second
	inFlightWait     = time.Second
	onDemandTimeout  = 2 * time.Second
	retryAfter       = 10 * time.Second
)

func newIdentityProvider(cfg portal.IdPConfig, publicURL string, client *http.Client, now func() time.Time, log *slog.Logger) *identityProvider {
	p := &identityProvider{cfg: cfg, publicURL: publicURL, client: client, now: now, log: log}
	pending := "discovery has not completed yet"
	p.problem.Store(&pending)
	return p
}

// context gives go-oidc the provider's HTTP client.
func (p *identityProvider) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// errNotDiscovered is returned while a provider has no discovery document.
var errNotDiscovered = errors.New("identity provider not discovered")

// errInFlight is returned by discover when another discovery is running.
var errInFlight = fmt.Errorf("%w: a discovery is in flight", errNotDiscovered)

// ready returns the provider's current metadata. Without any, it discovers
// once unless a discovery is already running.
func (p *identityProvider) ready(ctx context.Context) (*discovered, error) {
	if d := p.current.Load(); d != nil {
		return d, nil
	}
	done := p.inFlight.Load()
	if done == nil {
		if time.Since(time.Unix(0, p.lastTry.Load())) < retryAfter {
			return nil, errNotDiscovered
		}
		// The discovery is everyone's, not this request's: others wait
		// for it, and a failure turns sign-ins away for retryAfter. So
		// it is not cut short when this request is abandoned (a second
		// click cancels the first); onDemandTimeout bounds it.
		err := p.discover(context.WithoutCancel(ctx), onDemandTimeout)
		if err != nil && !errors.Is(err, errInFlight) {
			return nil, err
		}
		// Another discovery began between the look above and this
		// one's (the background one, as the portal starts): wait for
		// it as if it had been seen running.
		done = p.inFlight.Load()
	}
	if done != nil {
		select {
		case <-*done:
		case <-time.After(inFlightWait):
		case <-ctx.Done():
		}
	}
	if d := p.current.Load(); d != nil {
		return d, nil
	}
	return nil, errNotDiscovered
}

// discover fetches the discovery document and, if it is right, makes it
// current. It returns errInFlight at once when another discovery is
// running.
func (p *identityProvider) discover(ctx context.Context, timeout time.Duration) error {
	done := make(chan struct{})
	if !p.inFlight.CompareAndSwap(nil, &done) {
		return errInFlight
	}
	defer func() {
		p.lastTry.Store(time.Now().UnixNano())
		p.inFlight.Store(nil)
		close(done)
	}()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, err := p.fetch(ctx)
	var mismatch *oidc.IssuerMismatchError
	p.misconfigured.Store(errors.As(err, &mismatch))
	if err != nil {
		msg := err.Error()
		p.problem.Store(&msg)
		// The log has the cause itself, and says when it changes.
		attrs := []any{"idp", p.cfg.Name, "issuer", p.cfg.Issuer, "problem", msg}
		cause := msg
		if de := (*discoveryError)(nil); errors.As(err, &de) {
			cause = de.cause.Error()
			attrs = append(attrs, "err", cause)
		}
		p.mu.Lock()
		changed := cause != p.lastErr
		p.lastErr = cause
		p.mu.Unlock()
		level := slog.LevelDebug
		if changed {
			level = slog.LevelError
		}
		p.log.Log(ctx, level, "identity provider discovery failed", attrs...)
		return err
	}
	p.current.Store(d)
	// The keys as published now, for logout tokens from an address held
	// back for junk (admitsHeldBack): read after each discovery, so from
	// the start and after a rotation, without a sign-in first.
	go func() {
		kctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		d.keys.readHeld(kctx, p.client)
	}()
	if p.changed != nil {
		p.changed()
	}
	p.problem.Store(nil)
	p.mu.Lock()
	if p.lastErr != "" {
		p.log.Info("identity provider discovered", "idp", p.cfg.Name, "issuer", p.cfg.Issuer)
	}
	p.lastErr = ""
	p.mu.Unlock()
	return nil
}

// fetch reads and checks the discovery document. Its error is a sentence for
// the operator (it is shown on /readyz).
func (p *identityProvider) fetch(ctx context.Context) (*discovered, error) {
	prov, err := oidc.NewProvider(p.context(ctx), p.cfg.Issuer)
	var mismatch *oidc.IssuerMismatchError
	switch {
	case errors.As(err, &mismatch):
		return nil, fmt.Errorf("configuration error: PORTAL_IDP_%s_ISSUER is %q but the provider's discovery document states the issuer %q; set it to exactly that: %w",
			strings.ToUpper(p.cfg.Name), mismatch.Provided, mismatch.Discovered, err)
	case err != nil:
		return nil, &discoveryError{where: strings.TrimSuffix(p.cfg.Issuer, "/") + "/.well-known/openid-configuration", cause: err}
	}
	var extra struct {
		EndSession  string `json:"end_session_endpoint"`
		JWKS        string `json:"jwks_uri"`
		NamesItself bool   `json:"authorization_response_iss_parameter_supported"`
	}
	_ = prov.Claims(&extra)
	if extra.EndSession != "" && endSessionOrigin(p.cfg.Issuer, extra.EndSession) == "" {
		// The browser could not be sent there (the portal's policy allows
		// only one exact origin per endpoint): sign-out stays local, and
		// says the provider's session goes on.
		p.log.Warn("identity provider's end_session_endpoint is not one http(s) origin's address: sign-out ends the portal's session only",
			"idp", p.cfg.Name, "issuer", p.cfg.Issuer)
		extra.EndSession = ""
	}
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	// The verifiers are go-oidc's own (the issuer is the one discovery
	// just confirmed), over a key set that says when fetching the keys
	// failed: the provider's failure, not the person's.
	keys, algs := newKeySet(p.client, extra.JWKS), signingAlgs(prov)
	if old := p.current.Load(); old != nil && old.keys.url == extra.JWKS {
		keys.held.Store(old.keys.held.Load()) // until read again
	}
	return &discovered{
		provider:    prov,
		keys:        keys,
		endSession:  extra.EndSession,
		namesItself: extra.NamesItself,
		oauth: &oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret,
			Endpoint:     prov.Endpoint(),
			RedirectURL:  p.publicURL + "/auth/" + p.cfg.Name + "/callback",
			Scopes:       scopes,
		},
		verifier:       oidc.NewVerifier(p.cfg.Issuer, keys, &oidc.Config{ClientID: p.cfg.ClientID, Now: p.now, SupportedSigningAlgs: algs}),
		logoutVerifier: oidc.NewVerifier(p.cfg.Issuer, keys, &oidc.Config{ClientID: p.cfg.ClientID, Now: p.now, SupportedSigningAlgs: algs, SkipExpiryCheck: true}),
		heldLogoutVerifier: oidc.NewVerifier(p.cfg.Issuer, keys.heldOnly(),
			&oidc.Config{ClientID: p.cfg.ClientID, Now: p.now, SupportedSigningAlgs: algs, SkipExpiryCheck: true}),
	}, nil
}

// discoveryError is a discovery that failed other than by a wrong issuer.
// Its text is shown on /readyz, which answers anyone: it says where the
// portal looked and what kind of failure it met, never the cause's own
// words, which quote the provider's answer (go-oidc puts a non-200 body
// in its error) or name addresses inside the network. The log has the
// cause.
type discoveryError struct {
	where string
	cause error
}

func (e *discoveryError) Error() string {
	msg := "discovery at " + e.where + " failed: "
	var netErr net.Error
	switch code := answeredStatus(e.cause); {
	case code != 0:
		return msg + fmt.Sprintf("the provider answered %d %s (the portal's log has its answer)", code, http.StatusText(code))
	case errors.Is(e.cause, context.DeadlineExceeded), errors.As(e.cause, &netErr) && netErr.Timeout():
		return msg + "the provider did not answer in time"
	}
	return msg + "the provider could not be reached, or its answer could not be read (the portal's log says why)"
}

func (e *discoveryError) Unwrap() error { return e.cause }

// answeredStatus is the status of a discovery that got an answer other
// than 200 (go-oidc's error begins with the status line), or 0.
func answeredStatus(err error) int {
	text := err.Error()
	if len(text) < 4 || text[3] != ' ' {
		return 0
	}
	code, err := strconv.Atoi(text[:3])
	if err != nil || code < 100 || code > 599 {
		return 0
	}
	return code
}

// Problem is why the provider cannot be used now ("" when it can).
func (p *identityProvider) Problem() string {
	if msg := p.problem.Load(); msg != nil && p.current.Load() == nil {
		return *msg
	}
	if msg := p.problem.Load(); msg != nil {
		return "the last refresh of its discovery document failed (the earlier one is in use): " + *msg
	}
	return ""
}

// discoverProviders discovers every provider now and then again every
// interval (sooner, backing off from 5 seconds, while one fails) until ctx
// ends. Providers are discovered independently: one that is down or slow
// delays none of the others.
func (s *Server) discoverProviders(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	for _, p := range s.idps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			retry := 5 * time.Second
			for {
				next := s.cfg.IdPDiscoveryInterval
				if err := p.discover(ctx, discoveryTimeout); err != nil {
					next = min(next, retry)
					retry = min(2*retry, 5*time.Minute)
				} else {
					retry = 5 * time.Second
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(next):
				}
			}
		}()
	}
	return wg.Wait
}

// originPattern is an origin the portal puts in its Content-Security-Policy:
// a scheme, a host name or address and perhaps a port, nothing that could
// widen the policy (a wildcard) or end the directive.
var originPattern = regexp.MustCompile(`^https?://([a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$`)

// endSessionOrigin is the origin of a provider's end-session endpoint, or
// "" when the browser must not be sent there: it is not an absolute
// http(s) address of one exact origin, carries credentials, or is plain
// http at a provider whose issuer is https.
func endSessionOrigin(issuer, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" {
		return ""
	}
	iss, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && iss.Scheme == "http":
	default:
		return ""
	}
	o := u.Scheme + "://" + strings.ToLower(u.Host)
	if !originPattern.MatchString(o) {
		return ""
	}
	return o
}
