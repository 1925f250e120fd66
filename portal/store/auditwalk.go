package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"time"
)

// Verifying the trail one record at a time: a trail of millions of records
// is read page by page (keyset on seq) and never held whole. What the walk
// keeps is bounded by the number of checkpoints, anchors and restores, not
// by the number of records: the hash of each record a checkpoint or an
// anchor names, the head, and the first break found.

// verifyPage is how many records a walk reads per statement.
var verifyPage = 5000

// chainWalk checks links as records arrive in seq order.
type chainWalk struct {
	gaps    []Gap
	prev    string
	want    int64
	head    int64
	records int
	broken  *ChainError      // the first broken link
	named   map[int64]bool   // seqs a checkpoint or an anchor names
	seen    map[int64]string // their hashes, as found
	// covered is the last record a signature names (a checkpoint, an
	// anchor or a restore's mark); the records after it are signed by
	// nothing: uncovered counts them, the oldest written at since.
	covered   int64
	uncovered int
	since     time.Time
}

func newChainWalk(gaps []Gap, named ...[]Checkpoint) *chainWalk {
	w := &chainWalk{gaps: gaps, prev: GenesisHash, want: 1, named: map[int64]bool{}, seen: map[int64]string{}}
	for _, cs := range named {
		for _, c := range cs {
			w.named[c.Seq] = true
			w.covered = max(w.covered, c.Seq)
		}
	}
	for _, g := range gaps {
		w.covered = max(w.covered, g.Mark)
	}
	return w
}

func (w *chainWalk) add(r AuditRecord) {
	w.records++
	w.head = max(w.head, r.Seq)
	if r.Seq > w.covered {
		if w.uncovered == 0 || r.Time.Before(w.since) {
			w.since = r.Time
		}
		w.uncovered++
	}
	if w.named[r.Seq] {
		w.seen[r.Seq] = r.Hash
	}
	if w.broken != nil {
		return
	}
	resumed := r.Seq != w.want && resumes(w.gaps, r, w.want-1, w.prev)
	switch {
	case r.Seq != w.want && !resumed:
		w.broken = &ChainError{w.want, fmt.Sprintf("record %d is missing or out of order (found %d)", w.want, r.Seq)}
	case !resumed && r.PrevHash != w.prev:
		w.broken = &ChainError{r.Seq, "does not follow the record before it"}
	case ChainHash(r) != r.Hash:
		w.broken = &ChainError{r.Seq, "its contents do not match its hash (edited)"}
	case r.timeRewritten:
		w.broken = &ChainError{r.Seq, "its time is stored in a form the portal does not write (edited)"}
	}
	w.prev = r.Hash
	w.want = r.Seq + 1
}

// signedBy reports whether sig is one of trusted's signature of msg.
func signedBy(trusted []ed25519.PublicKey, msg, sig []byte) bool {
	for _, k := range trusted {
		if len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, sig) {
			return true
		}
	}
	return false
}

// checkpoints checks each signed checkpoint against the hashes found.
func (w *chainWalk) checkpoints(cps []Checkpoint, trusted []ed25519.PublicKey) error {
	for _, c := range cps {
		sig, err := base64.StdEncoding.DecodeString(c.Signature)
		if msg := checkpointMessage(c); err != nil || msg == nil || !signedBy(trusted, msg, sig) {
			return &ChainError{c.Seq, "checkpoint signature does not verify with the trusted key"}
		}
		h, ok := w.seen[c.Seq]
		if !ok {
			return &ChainError{c.Seq, "a signed checkpoint covers a record that is gone (records deleted from the end)"}
		}
		if h != c.Hash {
			return &ChainError{c.Seq, "the chain differs from the signed checkpoint"}
		}
	}
	return nil
}

// anchors checks the trail against checkpoints kept outside the database:
// every anchored record must still be there with its hash (or lost by a
// signed restore), and each anchor's signature must verify.
func (w *chainWalk) anchors(anchors []Checkpoint, trusted []ed25519.PublicKey) error {
	if len(anchors) == 0 {
		return nil
	}
	last := anchors[0]
	for _, a := range anchors {
		if a.Seq > last.Seq {
			last = a
		}
	}
	for _, a := range anchors {
		sig, err := base64.StdEncoding.DecodeString(a.Signature)
		if msg := checkpointMessage(a); err != nil || msg == nil || !signedBy(trusted, msg, sig) {
			return &ChainError{a.Seq, "an anchored checkpoint's signature does not verify with the trusted key"}
		}
		h, ok := w.seen[a.Seq]
		if g, gone := lostIn(w.gaps, a.Seq); !ok && gone {
			// lost by a restore; the last of them is what its mark follows
			if a.Seq == g.Anchored && a.Hash != g.AnchoredHash {
				return &ChainError{g.Mark, fmt.Sprintf("the restore mark does not follow anchored record %d", a.Seq)}
			}
			continue
		}
		switch {
		case !ok && w.head < a.Seq:
			return &ChainError{w.head + 1, fmt.Sprintf("the trail ends at record %d but record %d was anchored outside the database: records %d to %d (at least) are gone; the last anchored record is %d",
				w.head, a.Seq, w.head+1, a.Seq, last.Seq)}
		case !ok:
			return &ChainError{a.Seq, fmt.Sprintf("anchored record %d is missing; the last anchored record is %d", a.Seq, last.Seq)}
		case h != a.Hash:
			return &ChainError{a.Seq, fmt.Sprintf("record %d differs from its anchor outside the database; the last anchored record is %d", a.Seq, last.Seq)}
		}
	}
	return nil
}

// TrailCheck is what a walk of the whole trail found.
type TrailCheck struct {
	Records, Checkpoints int
	Restores             []Gap // the restores the trail records, each checked
	// Signed is the last record a signed checkpoint, an anchor or a
	// restore's mark names (0: none); when the check passed, every record
	// up to it is vouched for by a signature. Unsigned counts the records
	// after it, the oldest written at UnsignedSince: only their hash chain
	// was checked, which anyone who can write to the database can
	// recompute.
	Signed        int64
	Unsigned      int
	UnsignedSince time.Time
}

// VerifyTrail walks the stored trail page by page and checks it: against
// the anchors kept outside the database first (a shortened trail is named
// as such), then link by link, then against the signed checkpoints in the
// database. Errors are *ChainError at the first break, as VerifyAnchors
// and VerifyAudit report them.
func (s *Store) VerifyTrail(ctx context.Context, anchors []Checkpoint, trusted ...ed25519.PublicKey) (TrailCheck, error) {
	cps, err := s.Checkpoints(ctx)
	if err != nil {
		return TrailCheck{}, err
	}
	w, err := s.walk(ctx, trusted, cps, anchors)
	if err != nil {
		return TrailCheck{}, err
	}
	out := TrailCheck{Records: w.records, Checkpoints: len(cps), Restores: w.gaps,
		Signed: w.covered, Unsigned: w.uncovered, UnsignedSince: w.since}
	if err := w.anchors(anchors, trusted); err != nil {
		return out, err
	}
	if w.broken != nil {
		return out, w.broken
	}
	return out, w.checkpoints(cps, trusted)
}

// CheckAnchors walks the stored trail page by page and checks it against
// anchors only, as VerifyAnchors does.
func (s *Store) CheckAnchors(ctx context.Context, anchors []Checkpoint, trusted ...ed25519.PublicKey) error {
	if len(anchors) == 0 {
		return nil
	}
	w, err := s.walk(ctx, trusted, anchors)
	if err != nil {
		return err
	}
	return w.anchors(anchors, trusted)
}

// walk reads the whole trail in pages of verifyPage records; restore marks
// are read first (they are few), since a link may resume after a gap.
func (s *Store) walk(ctx context.Context, trusted []ed25519.PublicKey, named ...[]Checkpoint) (*chainWalk, error) {
	marks, err := s.AuditRecords(ctx, AuditFilter{Action: ActionRestored})
	if err != nil {
		return nil, err
	}
	gaps, err := RestoreMarks(marks, trusted...)
	if err != nil {
		return nil, err
	}
	w := newChainWalk(gaps, named...)
	for after := int64(0); ; {
		page, err := s.AuditRecords(ctx, AuditFilter{AfterSeq: after, Limit: verifyPage})
		if err != nil {
			return nil, err
		}
		for _, r := range page {
			w.add(r)
		}
		if len(page) < verifyPage {
			return w, nil
		}
		after = page[len(page)-1].Seq
	}
}
