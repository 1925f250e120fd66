package portal

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// Background work, each in a loop of its own: readiness checks (every 10
// s), the janitor (every minute: uploads whose process is gone, failed
// uploads, expired resumable uploads and sessions) with the heartbeat of
// the uploads this process receives (every 30 s), the retention sweep
// (every PORTAL_RETENTION_INTERVAL) and audit checkpoints (every 100
// records, or 10 minutes). Start runs it; Stop (and Close) end it and wait,
// so the database is never closed under it.

// Start runs the background work until Stop. Starting twice is a no-op.
func (s *Service) Start(ctx context.Context) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgStop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.settleInvitations(ctx)
	var wg sync.WaitGroup
	loop := func(every time.Duration, fn func(ctx context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				fn(ctx)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	loop(10*time.Second, s.refresh)
	loop(heartbeatEvery, s.heartbeat)
	loop(janitorEvery, func(ctx context.Context) { s.Sweep(ctx) })
	loop(janitorEvery, s.forgetGone)
	loop(s.cfg.RetentionEvery, func(ctx context.Context) { s.RunRetention(ctx) })
	s.startMail(ctx, loop)
	loop(s.cfg.ScanRetry, s.ScanWaiting)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.checkpoints(ctx)
	}()
	done := make(chan struct{})
	s.bgStop, s.bgDone = cancel, done
	go func() {
		wg.Wait()
		close(done)
	}()
}

// Stop ends the background work and waits for the round in progress, then
// signs and anchors a last checkpoint, so that the trail a stopped portal
// leaves is covered to its last record.
func (s *Service) Stop() {
	s.bgMu.Lock()
	stop, done := s.bgStop, s.bgDone
	s.bgStop, s.bgDone = nil, nil
	s.bgMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.evidence.Wait()
	if stop != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.Checkpoint(ctx, true); err != nil {
			s.log.Error("audit checkpoint at shutdown", "err", err)
		}
		cancel()
	}
}

const (
	// heartbeatEvery is how often the pending records of the uploads this
	// process receives are touched; abandonAfter is how long one may go
	// untouched before the janitor takes it as cut off by a crash.
	heartbeatEvery = 30 * time.Second
	abandonAfter   = 2 * time.Minute
	janitorEvery   = time.Minute
)

// heartbeat keeps the uploads this process is receiving alive. A touch
// that fails, however long, does not stop them: whether an upload may
// still commit is the database's to say, not this process's clock's. The
// janitor takes one it finds stale (store.AbandonUpload), and its commit
// then fails (store.ErrUploadTaken); one not taken still has every object
// it stored, and commits.
func (s *Service) heartbeat(ctx context.Context) {
	if ids := s.evidence.InFlight(); len(ids) > 0 {
		if err := s.dbErr(ctx, "janitor", s.store.TouchUploads(ctx, ids, s.now())); err != nil && ctx.Err() == nil {
			s.log.Error("upload heartbeat", "err", err)
		}
	}
}

// interruptedUpload is the audit record of a plain upload cut off by a
// crash, written when the janitor takes it, before it removes what it
// stored.
func (s *Service) interruptedUpload(p store.PendingUpload) store.AuditRecord {
	rec := s.systemRec(p.VisitID, "upload.failed", p.FileID, map[string]any{"reason": "interrupted"})
	rec.Outcome = "failure"
	return rec
}

// janitorLeaseTTL is how long one instance's janitor round holds the
// janitor's lease without renewing it: with several instances, one round
// runs at a time. The round renews it every third of that while it works.
const janitorLeaseTTL = 5 * time.Minute

// Sweep runs the janitor once: abandoned uploads and expired sessions. With
// several instances only the one holding the janitor's lease sweeps; the
// others skip the round. The lease is renewed while the round works (many
// uploads to remove or a slow object store may outlast it); a round that
// loses it stops, leaving the rest to the holder. ran is false when this
// call did not run the round: another holder (the background round, or
// another instance's) has it, or the lease could not be taken.
func (s *Service) Sweep(ctx context.Context) (ran bool) {
	ctx, release, ok, err := s.keepLease(ctx, "janitor", s.janitorLease)
	if err != nil && ctx.Err() == nil {
		s.log.Error("janitor lease", "err", err)
	}
	if !ok {
		return false
	}
	defer release()
	if err := s.evidence.Sweep(ctx, abandonAfter); err != nil {
		s.log.Error("sweep abandoned uploads", "err", err)
	}
	if err := s.evidence.SweepResumables(ctx, s.expiredUploadRecord); err != nil {
		s.log.Error("sweep expired resumable uploads", "err", err)
	}
	if err := s.sweepFormerMembersUploads(ctx); err != nil {
		s.log.Error("sweep resumable uploads of removed members", "err", err)
	}
	if err := s.dbErr(ctx, "janitor", s.store.Sessions(time.Now).DeleteExpired(ctx, func(data []byte) ([]store.AuditRecord, error) { return s.expiryRecords(ctx, data) })); err != nil {
		s.log.Error("sweep expired sessions", "err", err)
	}
	if err := s.dbErr(ctx, "janitor", s.endLoggedOutSessions(ctx)); err != nil {
		s.log.Error("end sessions a back-channel logout left", "err", err)
	}
	if err := s.dbErr(ctx, "janitor", s.store.PruneLogoutTokens(ctx, s.now())); err != nil {
		s.log.Error("prune logout tokens", "err", err)
	}
	if err := s.store.SweepNames(ctx, s.now().Add(-abandonAfter)); err != nil {
		s.log.Error("sweep reserved file names", "err", err)
	}
	if err := s.sweepSelfTestBuckets(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("sweep buckets self-tests left", "err", err)
	}
	if err := s.notePendingPurges(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("write the notes of purges outside the database", "err", err)
	}
	s.keyEpochs(ctx)
	return true
}

// keepLease takes the lease name for ttl and renews it every third of
// that until release. The context it returns ends when a renewal fails or
// finds the lease taken, so the work under it stops rather than run on
// beside another holder's. ok is false when the lease is held elsewhere
// or err says why it was not taken: the work is not to be done.
//
// Each taking is its own holder, not the process: two tasks of one
// process (the janitor retiring a key epoch while a destruction starts
// one) are two holders, and the first to finish does not give the lease
// up under the other.
func (s *Service) keepLease(ctx context.Context, name string, ttl time.Duration) (_ context.Context, release func(), ok bool, err error) {
	holder := s.instance + "/" + store.NewID()[:12]
	now := time.Now()
	if ok, err := s.store.TakeLease(ctx, name, holder, now, now.Add(ttl)); err != nil || !ok {
		return ctx, nil, false, err
	}
	renew := func(ctx context.Context) (bool, error) {
		return s.store.RenewLease(ctx, name, holder, time.Now().Add(ttl))
	}
	kept, stop := store.KeepLease(ctx, ttl, renew, func(err error) {
		s.log.Error(name+" lease lost: stopping its work", "err", err)
	})
	return kept, func() {
		stop()
		s.store.ReleaseLease(context.WithoutCancel(ctx), name, holder)
	}, true, nil
}

// errLeaseBusy is awaitLease's error for a lease another holder kept for
// longer than the wait.
var errLeaseBusy = errors.New("the lease is held elsewhere")

// awaitLease takes the lease name for ttl (keepLease), waiting up to wait
// for another holder to be done with it: errLeaseBusy when it is not.
func (s *Service) awaitLease(ctx context.Context, name string, ttl, wait time.Duration) (context.Context, func(), error) {
	deadline := time.Now().Add(wait)
	for {
		kept, release, ok, err := s.keepLease(ctx, name, ttl)
		if err != nil {
			return ctx, nil, err
		}
		if ok {
			return kept, release, nil
		}
		if time.Now().After(deadline) {
			return ctx, nil, errLeaseBusy
		}
		select {
		case <-ctx.Done():
			return ctx, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// keyEpochs starts the first key epoch (moving keys made by earlier
// versions into it), retires the epochs whose retention has run out,
// removes epoch keys no epoch names (a start cut off), and forgets epoch
// keys other instances retired.
func (s *Service) keyEpochs(ctx context.Context) {
	if err := s.EnsureKeyEpoch(ctx); err != nil {
		s.log.Error("key epoch", "err", err)
		return
	}
	if _, err := s.RetireKeyEpochs(ctx); err != nil {
		s.log.Error("retire key epochs", "err", err)
	}
	if _, err := s.RemoveOrphanEpochKeys(ctx); err != nil {
		s.log.Error("remove key epoch keys no epoch names", "err", err)
	}
	if err := s.keys.pruneEpochs(ctx); err != nil {
		s.log.Error("key epochs", "err", err)
	}
}

// forgetGone is each instance's own round (the janitor's runs on one at a
// time): it forgets the keys, and decrypted names, of visits destroyed by
// any instance, and the keys of epochs any instance retired.
func (s *Service) forgetGone(ctx context.Context) {
	if err := s.keys.prune(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("forget destroyed visits' keys", "err", err)
	}
	if err := s.keys.pruneEpochs(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("key epochs", "err", err)
	}
}

// SessionUserKey is the session value that holds the signed-in user's id.
// The web door writes it; the janitor reads it to record an expiry.
const SessionUserKey = "user_id"

// sessionUser is the user a stored session is signed in as: "" for a
// session before sign-in, or one that does not decode.
func sessionUser(data []byte) string {
	_, values, err := SessionCodec{}.Decode(data)
	if err != nil {
		return ""
	}
	uid, _ := values[SessionUserKey].(string)
	return uid
}

// expiryRecords describes an expired session for the audit trail: one
// record when somebody was signed in to it, none for a pre-sign-in session
// (or one whose person's row is gone). A database error leaves the session
// for the next sweep, so that no expiry goes unrecorded.
func (s *Service) expiryRecords(ctx context.Context, data []byte) ([]store.AuditRecord, error) {
	uid := sessionUser(data)
	if uid == "" {
		return nil, nil
	}
	u, err := s.store.User(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := s.systemRec("", "session.expired", "", nil)
	r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role = u.Issuer, u.Subject, u.Email, ""
	return []store.AuditRecord{r}, nil
}
