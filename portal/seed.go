package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/receipt"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Volume seeding, for tests and the bench that prove a request's cost does
// not grow with how much the portal holds. It writes database rows only:
// visits with real keys (wrapped to the current epoch), titles, request and
// restrictions, but no buckets; files with sealed names and hashes, but no
// objects (listing, paging and searching never read objects), each with
// the receipt its upload is issued. The portal
// itself never calls it, and nothing it writes is audited.

// SeedVisits creates n visits whose references start with prefix, with
// member (a user id, "" for none) as their lead inspector.
func (s *Service) SeedVisits(ctx context.Context, n int, prefix, member string) ([]store.Visit, error) {
	out := make([]store.Visit, 0, n)
	nd := s.Today()
	for i := range n {
		key, err := crypto.NewVisitKey()
		if err != nil {
			return out, err
		}
		id := store.NewID()
		wrapped, epoch, err := s.wrapVisitKey(ctx, key, id)
		if err != nil {
			return out, err
		}
		v := store.Visit{ID: id, Reference: fmt.Sprintf("%s-%05d", prefix, i), TitleSealed: key.Seal([]byte("Seeded visit "+id[:6]), titleContext(id)),
			Provider: "Cafcass", RetentionDays: s.cfg.RetentionDays, NotificationDate: nd.AddDate(0, 0, -i%400), FieldworkStart: s.cal.AddWorkingDays(nd.AddDate(0, 0, -i%400), 5),
			State: StateActive, Bucket: s.cfg.BucketPrefix + id, CreatedAt: s.now(), CreatedBy: "system"}
		if err := s.store.CreateVisit(ctx, v, store.VisitKey{VisitID: id, Wrapped: wrapped, Epoch: epoch, Fingerprint: key.Fingerprint(), HeaderSize: key.HeaderSize(), CreatedAt: s.now()},
			defaultRestrictions(), defaultRequest(key, id, "system")); err != nil {
			return out, err
		}
		if member != "" {
			if _, _, err := s.store.PutMember(ctx, store.Member{VisitID: id, UserID: member, Role: "lead_inspector"}, s.now()); err != nil {
				return out, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// SeedFiles adds n file rows to a visit, uploaded by uploader, named
// "<item> Seeded <i>.pdf" over the visit's Annex A items, each with the
// receipt its upload would have been issued (signed and sealed as an
// upload's is): a visit receipts every file it holds.
func (s *Service) SeedFiles(ctx context.Context, visitID, uploader string, n int) error {
	key, err := s.keys.Key(ctx, visitID)
	if err != nil {
		return err
	}
	v, err := s.store.Visit(ctx, visitID)
	if err != nil {
		return err
	}
	u, err := s.store.User(ctx, uploader)
	if err != nil {
		return err
	}
	receipts := make([]store.Receipt, 0, 1000)
	items := []string{"1.01", "1.02", "1.03", "1.04", "1.05"}
	batch := make([]store.File, 0, 1000)
	for i := range n {
		id := store.NewID()
		item := items[i%len(items)]
		sum := sha256.Sum256([]byte(id))
		mac := sha256.Sum256(sum[:]) // of its one segment, as an upload records it
		batch = append(batch, store.File{ID: id, VisitID: visitID, NameSealed: key.Seal([]byte(fmt.Sprintf("%s Seeded %d.pdf", item, i)), evidence.NameContext(visitID, id)),
			Item: item, Size: 1000, SHA256: hex.EncodeToString(sum[:]), SegmentSize: 32 << 20, Segments: 1, HeaderSize: key.HeaderSize(), SegmentMACs: mac[:],
			UploadedBy: uploader, UploadedAt: s.now().Add(-time.Duration(n-i) * time.Second)})
		r, err := s.newReceipt(v, key, receipt.KindUpload, u, batch[len(batch)-1:])
		if err != nil {
			return err
		}
		receipts = append(receipts, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := s.store.InsertFiles(ctx, batch); err != nil {
				return err
			}
			if err := s.store.SeedReceipts(ctx, receipts); err != nil {
				return err
			}
			batch, receipts = batch[:0], receipts[:0]
		}
	}
	return nil
}
