package store

import (
	"bytes"
	"slices"
	"sync"
)

// rowCache is the process's memory of the visits the lists of visits have
// shown: each visit's row as a list reads it (its columns, letter events,
// destruction notice and failure), under the row_version it had
// (migration 37). A list's page statement reads every visit's version
// beside the member's own membership and the key's fingerprint, which
// are never kept here; a visit whose version is the one kept is taken
// from here, the others are read (four statements for all of them) and
// kept. A version changes, by trigger, in the transaction that changes
// anything kept, so a visit is never shown as it was before a change
// the page's statement could see, in any process: each keeps its own
// memory and checks it against the database on every page.
//
// Only the lists of visits read it. What decides (access, destruction,
// holds, the sweep) reads the database.
type rowCache struct {
	mu   sync.Mutex
	rows map[string]cachedRow
}

type cachedRow struct {
	version int64
	row     VisitRow
}

// rowCacheSize bounds the memory: a row is about a kilobyte with its
// events, so at most about 10 MB. When it is full, a visit is let go to
// make room (the one the map gives first: no order is kept, the lists
// read the newest visits, and a visit let go is read again when next
// shown).
const rowCacheSize = 10_000

// get returns the row kept for id at version, a copy that shares nothing
// a caller could change with what is kept.
func (c *rowCache) get(id string, version int64) (VisitRow, bool) {
	c.mu.Lock()
	e, ok := c.rows[id]
	c.mu.Unlock()
	if !ok || e.version != version {
		return VisitRow{}, false
	}
	return e.row.clone(), true
}

// put keeps a copy of r (its membership left out) under version.
func (c *rowCache) put(r VisitRow, version int64) {
	r.Member, r.Memberships = nil, nil
	r = r.clone()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows == nil {
		c.rows = make(map[string]cachedRow)
	}
	if _, ok := c.rows[r.ID]; !ok && len(c.rows) >= rowCacheSize {
		for id := range c.rows {
			delete(c.rows, id)
			break
		}
	}
	c.rows[r.ID] = cachedRow{version: version, row: r}
}

// len is how many visits are kept (tests).
func (c *rowCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rows)
}

// clone is r with its own copies of everything it refers to.
func (r VisitRow) clone() VisitRow {
	r.TitleSealed = bytes.Clone(r.TitleSealed)
	r.Hold.ReasonSealed = bytes.Clone(r.Hold.ReasonSealed)
	r.Events = slices.Clone(r.Events)
	if r.Member != nil {
		m := *r.Member
		r.Member = &m
	}
	r.Memberships = slices.Clone(r.Memberships)
	if r.Notice != nil {
		n := *r.Notice
		r.Notice = &n
	}
	if r.Failure != nil {
		f := *r.Failure
		r.Failure = &f
	}
	return r
}
