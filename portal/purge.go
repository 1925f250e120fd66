package portal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/receipt"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Purging a misdirected upload: a file uploaded to the wrong visit or about
// the wrong child, found once the provider can no longer delete it. An
// administrator with no part in the visit purges it (policy file.purge,
// never under a legal hold): its objects are deleted, and what stays is its
// digest and size, who purged it, when and why (the reason sealed under
// the visit key, like every free text). The uploader and the lead inspector
// are told, by a mail that carries no evidence text; the destruction
// certificate lists purged files apart.

// MaxPurgeReason bounds a purge's reason, in characters.
const MaxPurgeReason = 1000

func purgeReasonContext(visitID, fileID string) string {
	return "purge-reason:" + visitID + ":" + fileID
}

// Purge removes the file Authorize named for good, with the reason given.
func (acc *Access) Purge(ctx context.Context, reason string) error {
	if err := acc.needFile(); err != nil {
		return err
	}
	if err := acc.require(ctx, policy.FilePurge, &acc.File); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxPurgeReason || !utf8.ValidString(reason) {
		return invalidf("reason", "Say why the file is purged (at most %d characters), such as “uploaded to the wrong visit”.", MaxPurgeReason)
	}
	s, f := acc.svc, acc.File
	key, err := acc.key(ctx)
	if err != nil {
		return err
	}
	detail := map[string]any{"sha256": f.SHA256, "size": f.Size, "item": f.Item, "scan": f.Scan}
	if m, err := s.store.MembershipOf(ctx, acc.Visit.ID, f.UploadedBy); err == nil {
		detail["uploader_member"] = m.ID // told by mail (notesFor)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	p := store.PurgedFile{FileID: f.ID, VisitID: acc.Visit.ID, Item: f.Item, Size: f.Size, SHA256: f.SHA256, UploadedBy: f.UploadedBy, UploadedAt: f.UploadedAt,
		PurgedBy: acc.Actor.UserID, PurgedAt: s.now(), ReasonSealed: key.Seal([]byte(reason), purgeReasonContext(acc.Visit.ID, f.ID)),
		Lists: func(r store.Receipt) (bool, error) { return s.receiptLists(key, r, f.ID) }, Earlier: acc.earlierName(ctx, f)}
	if err := s.evidence.Purge(ctx, acc.Visit, p, acc.rec("file.purged", f.ID, "success", detail)); errors.Is(err, store.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return heldSince(err)
	}
	s.log.Info("file purged", "visit", acc.Visit.ID, "file", f.ID, "user", acc.Actor.UserID)
	// Outside the database once the database has it (a note written
	// first would purge, after a restore, a file whose purge was then
	// refused). A note not written leaves the purge done and its note
	// pending: the janitor writes it (notePendingPurges). Until then a
	// restore of a backup taken before it would list the file again, so it
	// is logged as an error for the operator.
	if err := s.notePurge(context.WithoutCancel(ctx), p); err != nil {
		s.log.Error("file purged, but its note outside the database was not written: the janitor writes it; until then a restore of a backup taken before now would list it again",
			"visit", acc.Visit.ID, "file", f.ID, "err", err)
	}
	return nil
}

// notePendingPurges writes the notes outside the database of the purges
// whose note was not written when they committed (the anchor store
// failed, or the process stopped in between). A note written twice is
// the same note.
func (s *Service) notePendingPurges(ctx context.Context) error {
	for {
		ps, err := s.store.PurgeNotesPending(ctx, 100)
		if err != nil || len(ps) == 0 {
			return err
		}
		for _, p := range ps {
			if err := s.notePurge(ctx, p); err != nil {
				return err
			}
			s.log.Warn("a purge's note outside the database, not written when it was purged, is written now", "visit", p.VisitID, "file", p.FileID)
		}
		if len(ps) < 100 {
			return nil
		}
	}
}

// PurgedView is what stays of a purged file, as its visit's administrators
// see it.
type PurgedView struct {
	ID       string    `json:"id"`
	Item     string    `json:"item"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	PurgedBy string    `json:"purged_by"`
	PurgedAt time.Time `json:"purged_at"`
	Reason   string    `json:"reason"`
}

// PurgedFiles lists the visit's purged files, with why, for those who
// manage the visit.
func (acc *Access) PurgedFiles(ctx context.Context) ([]PurgedView, error) {
	if err := acc.require(ctx, policy.VisitManage, nil); err != nil {
		return nil, err
	}
	s := acc.svc
	ps, err := s.store.PurgedFiles(ctx, acc.Visit.ID)
	if err != nil || len(ps) == 0 {
		return []PurgedView{}, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	by := make([]string, 0, len(ps))
	for _, p := range ps {
		by = append(by, p.PurgedBy)
	}
	users, err := s.store.UsersByID(ctx, by)
	if err != nil {
		return nil, err
	}
	out := make([]PurgedView, 0, len(ps))
	for _, p := range ps {
		reason, err := key.Open(p.ReasonSealed, purgeReasonContext(p.VisitID, p.FileID))
		if err != nil {
			return nil, errCorrupt
		}
		by := p.PurgedBy
		if u, ok := users[p.PurgedBy]; ok {
			by = PersonName(u.Email, u.Name, u.Subject, u.Issuer)
		}
		out = append(out, PurgedView{ID: p.FileID, Item: p.Item, Size: p.Size, SHA256: p.SHA256, PurgedBy: by, PurgedAt: p.PurgedAt, Reason: string(reason)})
	}
	return out, nil
}

// receiptLists reports whether a receipt lists the file: a purged file's
// receipts name it, so they go with it (each other file a batch lists
// keeps the receipt of its own upload).
func (s *Service) receiptLists(key *crypto.VisitKey, row store.Receipt, fileID string) (bool, error) {
	r, err := s.openReceipt(key, row)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(r.Files, func(f receipt.File) bool { return f.ID == fileID }), nil
}
