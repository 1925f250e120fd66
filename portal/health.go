package portal

import (
	"context"
	"time"
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
}

// Ready checks the database, the object store and the master key.
func (s *Service) Ready(ctx context.Context) Readiness {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r := Readiness{Ready: true, Checks: map[string]string{"database": "ok", "storage": "ok", "key": "ok"}, Degraded: map[string]string{}}
	if err := s.store.Ping(ctx); err != nil {
		r.Checks["database"], r.Ready = "failing", false
		s.log.Error("readiness: database", "err", err)
	}
	if err := s.blobs.Ping(ctx); err != nil {
		r.Checks["storage"], r.Ready = "failing", false
		s.log.Error("readiness: storage", "err", err)
	}
	if s.keyErr != nil {
		r.Checks["key"], r.Ready = "failing", false
	}
	return r
}
