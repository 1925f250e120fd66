package pgserver

import (
	"context"
	"fmt"
	"time"
)

// waitChild polls check until it succeeds, the child process exits (its
// Wait result arrives on done), ctx ends, or limit passes. An exit is put
// back on done, where Stop waits for it.
func waitChild(ctx context.Context, what string, limit time.Duration, done chan error, check func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case exit := <-done:
			done <- exit
			return fmt.Errorf("%s exited during start-up: %v", what, exit)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", what, limit, err)
		}
	}
}
