// Package portal is the evidence portal's domain: visits, members, the
// information request, evidence (upload, download, archive, resumable
// uploads), letter events, legal hold, retention and destruction, and the
// audit trail. It knows nothing of HTTP: the web door (package web) and the
// operator's door (cmd/portal) call it with an Actor and plain values, and
// get domain values and typed errors (*Error) back.
//
// Invariants:
//   - Every operation on a visit asks package policy for its actor and the
//     resource it acts on, and records a refusal, whichever door it came
//     through. Deny is the default; an error while deciding refuses.
//   - Nothing names a person or a file in plaintext outside the database's
//     sealed columns: names, titles and reasons are sealed under the visit
//     key, so destroying the key destroys them with the evidence.
//   - Every security-relevant act is written to the audit trail in the same
//     transaction as the act, or before an act that is not a database write
//     (a download), which does not happen without its record.
package portal

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/mail"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Service is the portal's domain: its dependencies and its rules.
type Service struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	store     *store.Store
	blobs     *blobs.Store
	keys      *Keyring
	evidence  *evidence.Service
	cal       *calendar.Calendar
	timelines timelineMemo // by their dates, for s.cal
	policy    *policy.Engine
	retention *retention.Service
	signer    ed25519.PrivateKey
	keyErr    error // the master key's self-test at start-up
	health    health
	metrics   Metrics
	// mailer sends the outbox's notifications (nil: PORTAL_SMTP_URL is
	// not set); noteHolder names this instance on the rows it claims.
	mailer     *mail.Sender
	noteHolder string
	scanning   *scanner

	// appended is signalled after commits that appended audit records;
	// the checkpointer listens.
	appended chan struct{}
	// checkpointed is the sequence number of the last signed checkpoint
	// this process knows of.
	checkpointed atomic.Int64
	// foreignCheckpoint is the last checkpoint found in the database that
	// this portal's key did not sign (logged once).
	foreignCheckpoint atomic.Int64
	// ownCheckpoint is the last checkpoint this process signed: the
	// cadence goes from it while the latest in the database is not the
	// portal's.
	ownCheckpoint atomic.Pointer[store.Checkpoint]
	anchorMu      sync.Mutex
	anchors       Anchors
	anchored      int64 // the last checkpoint anchored by this process
	// accessNoted is the record up to which this process has noted
	// outside the database the acts that end access (noteAccessEnded).
	accessNoted atomic.Int64
	// rulesAfter is where the retention run's reading back of the
	// buckets' expiry rules goes on from (checkRules).
	rulesMu    sync.Mutex
	rulesAfter string

	// instance names this service in leases (host, pid, a random part).
	instance string
	// janitorLease and epochLease are how long the janitor's round and
	// the key epochs' work hold their leases between renewals
	// (janitorLeaseTTL, epochLeaseTTL; tests shorten them).
	janitorLease, epochLease time.Duration
	// restoreWait is how long finishing a restore waits for another
	// process finishing it (restoreWaitFor; tests shorten it).
	restoreWait time.Duration
	// checkClock: the sweep and readiness compare the clock with the
	// database's (clockagree.go).
	checkClock bool
	// namesIndexed holds the visits whose earlier files' names are
	// indexed (filenames.go).
	namesIndexed sync.Map
	// namesIndexing holds a lock per visit for its names' indexing;
	// namesStale the visits with names left under an earlier key.
	namesIndexing sync.Map
	namesStale    sync.Map

	// background is the running janitor (Start), stopped by Stop.
	bgMu   sync.Mutex
	bgStop context.CancelFunc
	bgDone chan struct{}
}

// Option changes how New builds the service; tests use them.
type Option func(*options)

type options struct {
	afterStep func(step string) error
	now       func() time.Time
	logger    *slog.Logger
	// checkClock compares the clock with the database's before a
	// destruction sweep (clockagree.go): on with the wall clock, off with
	// a test's clock unless WithClockCheck asks for it.
	checkClock bool
	metrics    Metrics

	scanNotifier ScanNotifier
}

// WithClock replaces the wall clock (timelines, windows, retention). The
// clock is then not compared with the database's, which a test's clock
// differs from on purpose.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now, o.checkClock = now, false }
}

// WithClockCheck compares the clock given by WithClock with the
// database's, as the wall clock always is (tests of a clock that is out).
func WithClockCheck() Option { return func(o *options) { o.checkClock = true } }

// WithRetentionHook runs after each recorded destruction step; an error
// stops the run there, as a crash would (tests of resumption).
func WithRetentionHook(f func(step string) error) Option {
	return func(o *options) { o.afterStep = f }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// blobsConfig is the object store as cfg names it, for every part of the
// portal that opens it (the service, the anchors, a restore), so that all
// of them use the same credentials.
func (c Config) blobsConfig(onError func(op string)) blobs.Config {
	return blobs.Config{Endpoint: c.S3Endpoint, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey, SessionToken: c.S3SessionToken,
		Secure: c.S3Secure, Region: c.S3Region, OnError: onError}
}

// New builds the domain from its configuration: it opens the database,
// loads the master and signing keys, and prepares the object store. It
// writes nothing to the audit trail: a one-off command is not a start of the
// portal (RecordStart is, for the server).
func New(ctx context.Context, cfg Config, opts ...Option) (*Service, error) {
	o := options{now: time.Now, metrics: noMetrics{}, checkClock: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = NewLogger(os.Stderr, cfg.LogLevel)
	}
	master, err := crypto.LoadMasterKey(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	cal, err := loadCalendar(cfg.CalendarFile)
	if err != nil {
		return nil, err
	}
	signer, err := retention.LoadSigningKey(cfg.SigningKey)
	if err != nil {
		return nil, err
	}
	engine, err := policy.New()
	if err != nil {
		return nil, err
	}
	st, err := OpenDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := checkDatabaseRole(ctx, cfg, st); err != nil {
		st.Close()
		return nil, err
	}
	bl, err := blobs.New(cfg.blobsConfig(o.metrics.S3Error))
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Service{
		cfg:   cfg,
		log:   o.logger,
		now:   o.now,
		store: st,

		checkClock: o.checkClock,
		blobs:      bl,
		keys:       NewKeyring(master, st, &epochVault{blobs: bl, bucket: cfg.KeyBucket}),
		cal:        cal,
		signer:     signer,
		policy:     engine,
	}
	s.metrics = o.metrics
	s.appended = make(chan struct{}, 1)
	st.OnAppend(func(seq int64) {
		s.metrics.AuditAppended()
		// Due from the last checkpoint actually signed: every append past
		// the mark asks again, so a checkpoint that ran a little early
		// (before the head reached the mark) is followed by another.
		if seq-s.checkpointed.Load() >= checkpointEvery {
			select {
			case s.appended <- struct{}{}:
			default:
			}
		}
	})
	if err := s.setUpMail(); err != nil {
		st.Close()
		return nil, err
	}
	if s.keyErr = s.keys.SelfTest(); s.keyErr != nil {
		s.log.Error("master key self-test failed", "err", s.keyErr)
	}
	host, _ := os.Hostname()
	s.instance = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), store.NewID()[:8])
	s.janitorLease, s.epochLease = janitorLeaseTTL, epochLeaseTTL
	s.restoreWait = restoreWaitFor
	s.retention = &retention.Service{Store: st, Objects: bl, Forget: s.keys.Forget, Signer: signer, Now: o.now, Today: s.Today,
		NoticePeriod: cfg.DestructionNotice, LeaseTTL: cfg.RetentionLease, Holder: s.instance, Log: o.logger,
		AfterStep: o.afterStep, Record: s.retentionRec, Epochs: epochSuperseder{s}, Outside: s.putOutside,
		Issued: s.issuedOutside}
	s.evidence = &evidence.Service{Store: st, Blobs: bl, SegmentSize: cfg.SegmentSize, Now: o.now, Log: o.logger, Interrupted: s.interruptedUpload,
		UploadExpiry: cfg.UploadExpiry, UploadMaxAge: uploadMaxAges * cfg.UploadExpiry}
	s.newScanner(o.scanNotifier)
	return s, nil
}

func loadCalendar(path string) (*calendar.Calendar, error) {
	if path == "" {
		return calendar.New()
	}
	cal, err := calendar.Load(path)
	if err != nil {
		return nil, fmt.Errorf("PORTAL_CALENDAR_FILE: %w", err)
	}
	return cal, nil
}

// Box seals the portal's own short-lived secrets of one purpose (the web
// door's sign-in cookie and the ID token kept for sign-out) under a key
// derived from the master key.
func (s *Service) Box(purpose string) (*crypto.Box, error) { return s.keys.box(purpose) }

// Config is the configuration the service was built with.
func (s *Service) Config() Config { return s.cfg }

// Log is the service's logger.
func (s *Service) Log() *slog.Logger { return s.log }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Today is the civil date in London.
func (s *Service) Today() time.Time { return calendar.Today(s.now()) }

// Calendar is the working-day calendar.
func (s *Service) Calendar() *calendar.Calendar { return s.cal }

// Store exposes the metadata store (commands and tests).
func (s *Service) Store() *store.Store { return s.store }

// Blobs exposes the object store (tests inspect raw objects).
func (s *Service) Blobs() *blobs.Store { return s.blobs }

// Close stops the background work, waits for it, then closes the database.
func (s *Service) Close() error {
	s.Stop()
	return s.store.Close()
}

// SigningPublicKey is the public half of the key that signs destruction
// certificates and audit checkpoints.
func (s *Service) SigningPublicKey() ed25519.PublicKey { return s.signer.Public().(ed25519.PublicKey) }
