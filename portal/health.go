package portal

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/blobs"
)

// Readiness is what serving needs: the database, the object store and the
// master key (its wrap and unwrap self-test at start-up). Each check is
// "ok" or "failing"; it names which failed, never why in detail.
type Readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
	// Degraded names what is wrong but optional (an identity provider
	// down, a store without object lock), each with a sentence for the
	// operator; it does not make the portal unready.
	Degraded map[string]string `json:"degraded,omitempty"`
	At       time.Time         `json:"checked_at"`
}

// health holds the latest results of the checks that run in the
// background, so that readiness answers at once whatever is down.
type health struct {
	mu       sync.Mutex
	last     Readiness
	features *blobs.Features // nil until a self-test has run
	selfErr  error           // the last self-test's failure
	selfLeft error           // why its bucket could not be removed (nil: removed)
	selfAt   time.Time
	// The last check of the master key against the current key epoch's
	// key in the key bucket (checkKey): "ok", "rotated" (it does not open
	// it, but this instance holds that key from before a rotation) or
	// "failing".
	keyState string
	keyAt    time.Time
	running  chan struct{} // closed when the check in progress ends
	// unflushedOnce logs PostgreSQL's unflushed settings once a process.
	unflushedOnce sync.Once
}

// fresh is how old results may be and still be served as they are; older
// ones are refreshed first, for at most refreshWait.
const (
	fresh       = 2 * time.Second
	refreshWait = 800 * time.Millisecond
	selfTestAge = 10 * time.Minute
	keyCheckAge = time.Minute
)

// Ready returns the latest readiness, refreshing it when it is older than a
// couple of seconds. It answers within a second whatever is down: a check
// that has not answered by then is failing.
func (s *Service) Ready(ctx context.Context) Readiness {
	h := &s.health
	h.mu.Lock()
	last := h.last
	if time.Since(last.At) < fresh {
		h.mu.Unlock()
		return copyReadiness(last)
	}
	done := s.startCheck(ctx)
	h.mu.Unlock()
	select {
	case <-done:
		h.mu.Lock()
		defer h.mu.Unlock()
		return copyReadiness(h.last)
	case <-time.After(refreshWait):
	case <-ctx.Done():
	}
	// Something is too slow to answer: fail closed.
	r := copyReadiness(last)
	r.Ready = false
	r.Checks["answer"] = "failing"
	return r
}

// refresh runs the checks now and waits for them (the background loop).
func (s *Service) refresh(ctx context.Context) {
	h := &s.health
	h.mu.Lock()
	done := s.startCheck(ctx)
	h.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// startCheck starts the checks unless they are running, and returns what
// is closed when they end; h.mu is held.
func (s *Service) startCheck(ctx context.Context) chan struct{} {
	h := &s.health
	if h.running == nil {
		h.running = make(chan struct{})
		go s.check(context.WithoutCancel(ctx), h.running)
	}
	return h.running
}

func copyReadiness(r Readiness) Readiness {
	out := r
	out.Checks, out.Degraded = map[string]string{}, map[string]string{}
	for k, v := range r.Checks {
		out.Checks[k] = v
	}
	for k, v := range r.Degraded {
		out.Degraded[k] = v
	}
	return out
}

// check runs every check and stores the results; done is closed after.
func (s *Service) check(ctx context.Context, done chan struct{}) {
	r := Readiness{Ready: true, Checks: map[string]string{"database": "ok", "storage": "ok", "key": "ok"}, Degraded: map[string]string{}}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.store.Ping(pctx); err != nil {
		r.Checks["database"], r.Ready = "failing", false
		s.metrics.DatabaseError("ping")
		s.log.Error("readiness: database", "err", err)
	} else if off, err := s.store.Unflushed(pctx); err == nil && len(off) > 0 {
		r.Degraded["database:durability"] = "PostgreSQL is set to " + strings.Join(off, ", ") +
			": what the portal has answered or recorded may be lost in a power cut or a crash of its host. Set them back to PostgreSQL's defaults (on)."
		s.health.unflushedOnce.Do(func() {
			s.log.Warn("database: commits are not flushed to disk", "settings", strings.Join(off, ","))
		})
	}
	if s.checkClock && r.Checks["database"] == "ok" {
		if skew, err := s.clockSkew(pctx); err == nil && (skew > maxClockSkew || skew < -maxClockSkew) {
			r.Degraded["clock"] = "This instance's clock is " + describeSkew(skew) + " the database's: it destroys nothing until they agree within " +
				maxClockSkew.String() + ". Check the hosts' time synchronisation (NTP)."
		}
	}
	if err := s.blobs.Ping(pctx, s.cfg.KeyBucket); err != nil {
		r.Checks["storage"], r.Ready = "failing", false
		s.log.Error("readiness: storage", "err", err)
	}
	s.scannerDegraded(pctx, r.Degraded)
	h := &s.health
	h.mu.Lock()
	runSelfTest := r.Checks["storage"] == "ok" && time.Since(h.selfAt) > selfTestAge
	runKeyCheck := r.Checks["storage"] == "ok" && time.Since(h.keyAt) > keyCheckAge
	h.mu.Unlock()
	if runKeyCheck {
		s.checkKey(pctx)
	}
	if runSelfTest {
		s.selfTest(ctx)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case s.keyErr != nil || h.keyState == "failing":
		r.Checks["key"], r.Ready = "failing", false
	case h.keyState == "rotated":
		r.Degraded["key:rotated"] = "The master key this instance holds no longer opens the current key epoch's key (the master key was rotated): " +
			"restart it with the new key file. Until then it serves with the epoch key it holds, and cannot start a key epoch, so destructions wait."
	}
	for k, v := range s.storeDegraded() {
		r.Degraded[k] = v
	}
	r.At = time.Now()
	h.last, h.running = r, nil
	s.metrics.Ready(r.Ready)
	close(done)
}

// checkKey checks the master key against the key bucket: the self-test at
// start-up only wraps and unwraps a throwaway key, which any key file
// passes. A key that does not open the current epoch's key is the wrong
// key file, or one a rotation has replaced; failing to read the bucket
// decides nothing about the key (the storage check reports the store).
func (s *Service) checkKey(ctx context.Context) {
	held, err := s.keys.checkCurrent(ctx)
	state := "ok"
	switch {
	case errors.Is(err, crypto.ErrUnwrap) && held:
		state = "rotated"
		s.log.Error("readiness: the master key no longer opens the current key epoch (rotated?): restart with the new key file", "err", err)
	case errors.Is(err, crypto.ErrUnwrap):
		state = "failing"
		s.log.Error("readiness: the master key opens no stored key (the wrong key file?)", "err", err)
	case err != nil:
		s.log.Warn("readiness: the master key could not be checked against the key bucket", "err", err)
	}
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil && state == "ok" {
		return // not checked: the previous state stands, and it is checked again next time
	}
	h.keyState, h.keyAt = state, time.Now()
}

// selfTestLease begins the name of the lease that records a self-test's
// bucket; selfTestBucketLife is how long after the self-test began its
// bucket is taken as left behind (a self-test ends within 30 s).
const (
	selfTestLease      = "selftest-bucket:"
	selfTestBucketLife = time.Hour
)

// sweepSelfTestBuckets removes the buckets self-tests left (those whose
// records, selfTestLease, ran out), 20 a round, and clears the records. Only a name of a self-test's form is removed, and only an empty
// bucket (no object is deleted): never a visit's. One the store refuses
// to remove is tried again an hour later.
func (s *Service) sweepSelfTestBuckets(ctx context.Context) error {
	names, err := s.store.LeasesEnded(ctx, selfTestLease, s.now(), 20)
	if err != nil {
		return err
	}
	var errs []error
	for _, lease := range names {
		bucket := strings.TrimPrefix(lease, selfTestLease)
		if err := s.blobs.RemoveSelfTestBucket(ctx, s.cfg.BucketPrefix, bucket); err != nil {
			errs = append(errs, err)
			if _, err := s.store.TakeLease(ctx, lease, s.instance, s.now(), s.now().Add(selfTestBucketLife)); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		s.log.Info("removed a bucket an object store self-test left", "bucket", bucket)
		if err := s.store.DropLease(ctx, lease); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// selfTest creates and removes a bucket, as visit creation does, and finds
// what the store offers. Its findings are reported at start-up and as
// degraded readiness until the next one.
//
// The bucket's name is recorded first (a lease named after it, for
// selfTestBucketLife), and the record goes once the bucket has: a bucket
// left behind (the store refused its removal, or the process stopped
// between the two) is removed by the janitor once the lease has run out
// (sweepSelfTestBuckets). The portal may not list the store's buckets, so
// nothing else would ever find it. A self-test whose name cannot be
// recorded does not run: it runs again at the next readiness check.
func (s *Service) selfTest(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name := blobs.SelfTestBucket(s.cfg.BucketPrefix)
	lease := selfTestLease + name
	if ok, err := s.store.TakeLease(ctx, lease, s.instance, s.now(), s.now().Add(selfTestBucketLife)); err != nil || !ok {
		s.log.Warn("object store self-test: its bucket's name could not be recorded; not run", "err", err)
		return
	}
	f, err := s.blobs.SelfTestIn(ctx, name)
	if f.Left == nil {
		if err := s.store.ReleaseLease(context.WithoutCancel(ctx), lease, s.instance); err != nil {
			s.log.Warn("object store self-test: the record of its bucket stays (the janitor clears it)", "err", err)
		}
	}
	h := &s.health
	h.mu.Lock()
	first := h.selfAt.IsZero()
	h.selfAt, h.selfErr, h.selfLeft = time.Now(), err, f.Left
	if err == nil {
		h.features = &f
	}
	h.mu.Unlock()
	if f.Left != nil {
		s.log.Error("object store self-test: the self-test bucket could not be removed; the store keeps it, and one more every self-test while this lasts", "err", f.Left)
	}
	switch {
	case err != nil:
		s.log.Error("object store self-test: a bucket could not be created, so visits cannot be", "region", s.cfg.S3Region, "err", err)
	case first && (!f.ObjectLock || !f.Lifecycle):
		s.log.Warn("object store: features missing; the portal relies on its own destruction sweep",
			"object_lock", f.ObjectLock, "lifecycle", f.Lifecycle)
	}
}

// storeDegraded is what the last self-test found wrong; h.mu is held.
func (s *Service) storeDegraded() map[string]string {
	h := &s.health
	out := map[string]string{}
	if h.selfErr != nil {
		out["storage:create_bucket"] = "A test bucket could not be created in region " + s.cfg.S3Region +
			": visits cannot be created. Check PORTAL_S3_REGION and that the credentials may create buckets."
	}
	if f := h.features; f != nil {
		if !f.ObjectLock {
			out["storage:object_lock"] = "The object store has no object lock on versioned buckets: legal holds are kept by the portal only, not by S3."
		}
		if !f.Lifecycle {
			out["storage:lifecycle"] = "The object store has no bucket lifecycle rules: there is no backstop expiry, and destruction relies on the portal's own sweep alone."
		}
	}
	if h.selfLeft != nil {
		out["storage:selftest_bucket"] = "The object store refused to remove the readiness self-test's bucket (" + h.selfLeft.Error() + "): one more is left every " +
			selfTestAge.String() + " while this lasts. Check that the portal's credentials may delete buckets (destruction needs it too), then remove the buckets named " +
			s.cfg.BucketPrefix + "selftest-* (they are empty)."
	}
	return out
}

// Degraded is what the last checks found wrong but optional, without
// running them again (pages for administrators show it).
func (s *Service) Degraded() map[string]string {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	return copyReadiness(s.health.last).Degraded
}
