package portal

import (
	"context"
	"fmt"
	"time"
)

// maxClockSkew is how far this instance's clock may be from the
// database's before it destroys nothing. Hosts kept in time agree to
// within milliseconds; a clock out by more has lost its time source, and
// destroys early by as much as it runs ahead. It is well under the sweep's
// lease (30 s), so that two instances, each within it of the database,
// cannot both find the lease expired.
const maxClockSkew = 10 * time.Second

// clockSkew is how far this instance's clock is ahead of the database's
// (behind: negative), taken against the middle of the round trip.
func (s *Service) clockSkew(ctx context.Context) (time.Duration, error) {
	before := s.now()
	db, err := s.store.Clock(ctx)
	if err != nil {
		return 0, err
	}
	after := s.now()
	return before.Add(after.Sub(before) / 2).Sub(db), nil
}

// clockAgrees refuses (an error naming both clocks) when this instance's
// clock and the database's differ by more than maxClockSkew, or the
// database's cannot be read: destruction is decided on the clock, and an
// error deciding refuses the act.
func (s *Service) clockAgrees(ctx context.Context) error {
	if !s.checkClock {
		return nil
	}
	skew, err := s.clockSkew(ctx)
	if err != nil {
		return fmt.Errorf("retention: this instance's clock not checked against the database's: %w", err)
	}
	if skew > maxClockSkew || skew < -maxClockSkew {
		return &clockOutError{skew: skew}
	}
	return nil
}

type clockOutError struct{ skew time.Duration }

func (e *clockOutError) Error() string {
	return fmt.Sprintf("retention: this instance's clock is %s the database's: nothing is destroyed until the clocks agree within %s",
		describeSkew(e.skew), maxClockSkew)
}

// describeSkew says "3h0m0s ahead of" or "2m0s behind".
func describeSkew(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		return (-d).String() + " behind"
	}
	return d.String() + " ahead of"
}
