package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/store"
)

// wholeCheck checks a file stored before segment MACs were recorded. Its
// segments authenticate under the visit's key whichever file of the visit
// they came from, so the only check of them is the file's SHA-256, over
// the whole: the plaintext is hashed as it is read, and the block that
// completes the file is checked before any byte of it is handed out. Open
// reads such a file through it to the end before it returns
// (checkWhole), so a file that does not match is refused before a byte
// is sent. A file that matches gets the MACs of the segments it was read
// from recorded: the read that follows, and every later one, checks each
// segment on its own, and a range of the file can be served.
type wholeCheck struct {
	sum      hash.Hash
	want     string // hex, as recorded at upload
	size     int64
	segments int
	got      int64
	macs     []byte // of the segments read, in order
	matched  bool

	record     func(macs []byte) (bool, error)
	recorded   bool
	backfilled bool  // the MACs were recorded by this read
	err        error // of recording them
}

func (s *Service) wholeCheck(ctx context.Context, v store.Visit, f store.File) *wholeCheck {
	// The MACs are recorded once the last byte is read: a client gone by
	// then does not undo the check.
	ctx = context.WithoutCancel(ctx)
	return &wholeCheck{sum: sha256.New(), want: f.SHA256, size: f.Size, segments: f.Segments,
		record: func(macs []byte) (bool, error) {
			ok, err := s.Store.BackfillSegmentMACs(ctx, v.ID, f.ID, macs)
			if err != nil {
				s.Log.ErrorContext(ctx, "record the segment MACs of a file read whole", "visit", v.ID, "file", f.ID, "err", err)
			}
			return ok, err
		}}
}

// add takes the next block of the file; ErrCorrupt when it completes a
// file that is not the one recorded.
func (w *wholeCheck) add(seg segment) error {
	w.macs = append(w.macs, seg.mac...)
	w.sum.Write(seg.data)
	w.got += int64(len(seg.data))
	if w.got < w.size {
		return nil
	}
	if w.got > w.size || len(w.macs) != w.segments*crypto.MACSize || hex.EncodeToString(w.sum.Sum(nil)) != w.want {
		return ErrCorrupt
	}
	w.matched = true
	return nil
}

// done is called when the file was read to its clean end: a match records
// the MACs read.
func (w *wholeCheck) done() {
	if !w.matched || w.recorded {
		return
	}
	w.recorded = true
	w.backfilled, w.err = w.record(w.macs)
}

// Check reads f whole and compares it with its recorded SHA-256: what a
// download does, without sending it. For a file stored before segment
// MACs were recorded, a match records them; backfilled says this check
// did (an error recording them is returned).
func (s *Service) Check(ctx context.Context, v store.Visit, key *crypto.VisitKey, f store.File) (backfilled bool, err error) {
	if f.SegmentMACs == nil {
		w, err := s.checkWhole(ctx, v, key, f)
		if err != nil {
			return false, err
		}
		return w.backfilled, w.err
	}
	r, err := s.Open(ctx, v, key, f, 0, f.Size)
	if err != nil {
		return false, err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return false, err
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return false, errors.New("the content does not match its recorded SHA-256")
	}
	return false, nil
}
