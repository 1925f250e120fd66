package portal

import (
	"context"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/ofsted-portal/evidence/portal/store"
)

// Background work: the janitor (abandoned and expired uploads, expired
// sessions), the retention sweep and audit checkpoints, every
// PORTAL_RETENTION_INTERVAL. Start runs it; Stop (and Close) end it and
// wait, so the database is never closed under it.

// Start runs the background work until Stop. Starting twice is a no-op.
func (s *Service) Start(ctx context.Context) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgStop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.bgStop, s.bgDone = cancel, make(chan struct{})
	go func() {
		defer close(s.bgDone)
		t := time.NewTicker(s.cfg.RetentionEvery)
		defer t.Stop()
		for {
			s.Sweep(ctx)
			s.RunRetention(ctx)
			if err := s.Checkpoint(ctx, false); err != nil && ctx.Err() == nil {
				s.log.Error("audit checkpoint", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the background work and waits for the round in progress.
func (s *Service) Stop() {
	s.bgMu.Lock()
	stop, done := s.bgStop, s.bgDone
	s.bgStop, s.bgDone = nil, nil
	s.bgMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

// abandonAfter is how long a pending upload may go untouched before its
// objects are removed. A live upload touches it after every segment.
const abandonAfter = time.Hour

// Sweep runs the janitor once: abandoned uploads and expired sessions.
func (s *Service) Sweep(ctx context.Context) {
	if err := s.evidence.Sweep(ctx, abandonAfter); err != nil {
		s.log.Error("sweep abandoned uploads", "err", err)
	}
	if err := s.evidence.SweepResumables(ctx, s.expiredUploadRecord); err != nil {
		s.log.Error("sweep expired resumable uploads", "err", err)
	}
	if err := s.store.Sessions(time.Now).DeleteExpired(ctx, s.expiryRecords); err != nil {
		s.log.Error("sweep expired sessions", "err", err)
	}
	if err := s.store.SweepNames(ctx, s.now().Add(-abandonAfter)); err != nil {
		s.log.Error("sweep reserved file names", "err", err)
	}
}

// SessionUserKey is the session value that holds the signed-in user's id.
// The web door writes it; the janitor reads it to record an expiry.
const SessionUserKey = "user_id"

// expiryRecords describes an expired session for the audit trail: one
// record when somebody was signed in to it, none for a pre-sign-in session.
func (s *Service) expiryRecords(data []byte) []store.AuditRecord {
	_, values, err := scs.GobCodec{}.Decode(data)
	if err != nil {
		return nil
	}
	uid, _ := values[SessionUserKey].(string)
	if uid == "" {
		return nil
	}
	u, err := s.store.User(context.Background(), uid)
	if err != nil {
		return nil
	}
	r := s.systemRec("", "session.expired", "", nil)
	r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role = u.Issuer, u.Subject, u.Email, ""
	return []store.AuditRecord{r}
}
