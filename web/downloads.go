package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// downloadSlots bounds the downloads (files, zips and exports of the audit
// trail) each person has under way at once: each holds its decrypted
// segments and object store connections, or its reads of the trail, while
// its client reads. One more waits for one of them to end, up to wait,
// then is refused. Limits are per portal process, in
// memory, and a person with nothing under way or waiting holds no entry.
type downloadSlots struct {
	max  int
	wait time.Duration

	mu     sync.Mutex
	people map[string]*personSlots
}

// personSlots is one person's downloads: the semaphore, and how many
// requests hold or wait for it (its entry goes when none do).
type personSlots struct {
	sem  chan struct{}
	refs int
}

func newDownloadSlots(max int, wait time.Duration) *downloadSlots {
	return &downloadSlots{max: max, wait: wait, people: map[string]*personSlots{}}
}

// errTooManyDownloads refuses a download beyond a person's bound.
var errTooManyDownloads = &httpError{http.StatusTooManyRequests, "too_many_downloads",
	"You have too many downloads under way. Wait for one of them to finish, then try again."}

// take waits for one of who's download slots, and returns what gives it
// back; errTooManyDownloads when none came free within the wait, or the
// request's context error when it ended first (the client left).
func (d *downloadSlots) take(ctx context.Context, who string) (release func(), err error) {
	d.mu.Lock()
	p := d.people[who]
	if p == nil {
		p = &personSlots{sem: make(chan struct{}, d.max)}
		d.people[who] = p
	}
	p.refs++
	d.mu.Unlock()
	done := func() {
		d.mu.Lock()
		if p.refs--; p.refs == 0 {
			delete(d.people, who)
		}
		d.mu.Unlock()
	}
	select {
	case p.sem <- struct{}{}:
		return func() { <-p.sem; done() }, nil
	default:
	}
	t := time.NewTimer(d.wait)
	defer t.Stop()
	select {
	case p.sem <- struct{}{}:
		return func() { <-p.sem; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	case <-t.C:
		done()
		return nil, errTooManyDownloads
	}
}

// takeDownload takes one of the person's download slots for c (see
// downloadSlots), or answers the request: 429 with Retry-After, logged.
func (s *Server) takeDownload(c *gin.Context, acc *portal.Access) (release func(), ok bool) {
	release, err := s.downloads.take(c.Request.Context(), acc.Actor.UserID)
	if err == nil {
		return release, true
	}
	if err == errTooManyDownloads {
		c.Header("Retry-After", strconv.Itoa(int(s.downloads.wait.Seconds())+1))
		s.log.Warn("download refused: too many under way for one person", "request_id", requestID(c), "visit", acc.Visit.ID,
			"user", acc.Actor.UserID, "under_way", s.downloads.max)
	}
	s.fail(c, err)
	return nil, false
}
