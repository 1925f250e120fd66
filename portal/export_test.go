package portal

import "context"

// HoldsKey reports whether the service keeps the visit's key in memory.
func (s *Service) HoldsKey(visitID string) bool {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	_, ok := s.keys.keys[visitID]
	return ok
}

// ForgetGoneKeys runs the per-instance round that forgets keys destroyed
// elsewhere.
func (s *Service) ForgetGoneKeys(ctx context.Context) { s.forgetGone(ctx) }
