package portal

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/receipt"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Signed submission receipts (package receipt): the provider's proof of
// what it supplied and when. Each completed upload gets one as it
// completes, and each batch sent from the upload page one more, listing
// its files.
//
// Receipts are stored, not re-derived. Ed25519 is deterministic, so
// signing the same facts again would give the same bytes, but the facts
// do not stay the same: a file is re-filed, replaced or deleted, an
// account's email changes, the signing key is rotated. A receipt says
// what was true when it was issued, so it is signed once and kept as
// signed (sealed under the visit key: it names files and a person), and
// every download serves those bytes.

// MaxBatch is the most files one batch receipt lists.
const MaxBatch = 1000

// ReceiptView is a receipt as shown: what it says and the signed bytes.
type ReceiptView struct {
	receipt.Receipt
	Signed []byte
}

func receiptContext(visitID, id string) string { return "receipt:" + visitID + ":" + id }

// issueReceipt signs and keeps a receipt of files, issued to the person
// who uploaded them.
func (s *Service) issueReceipt(ctx context.Context, v store.Visit, key *crypto.VisitKey, kind, to string, files []store.File, rec func(id string) store.AuditRecord) (ReceiptView, error) {
	u, err := s.store.User(ctx, to)
	if err != nil {
		return ReceiptView{}, err
	}
	if err := s.asUploaded(ctx, v.ID, u, files); err != nil {
		return ReceiptView{}, err
	}
	row, err := s.newReceipt(v, key, kind, u, files)
	if err != nil {
		return ReceiptView{}, err
	}
	if err := s.store.AddReceipt(ctx, row, rec(row.ID)); err != nil {
		return ReceiptView{}, err
	}
	return s.openReceipt(key, row)
}

// errNotAsUploaded refuses a receipt for a file whose row is not what its
// upload recorded.
var errNotAsUploaded = &Error{Kind: KindCorrupt, Code: "corrupt", Msg: "The portal cannot issue this receipt: what it holds of a file is not what was uploaded. The portal team has been told."}

// asUploaded holds files' sizes, SHA-256, arrival times and uploader (u,
// the receipt's) to what their uploads recorded in the audit trail
// (upload.completed, written with the file as it committed, in the
// chained and signed trail). A receipt signed after the upload (a late
// one, a batch) takes them from the files' rows, which anyone who can
// write to the database can change: signed as they stand, the provider's
// proof of what it sent, and when, would say what it did not send, or
// that a late submission came on time.
func (s *Service) asUploaded(ctx context.Context, visitID string, u store.User, files []store.File) error {
	ids := make([]string, len(files))
	for i, f := range files {
		ids[i] = f.ID
	}
	// Newest first: a receipt is mostly of uploads just made (every
	// resumable upload's is issued just after it completes), whose records
	// are at the end of the visit's trail.
	recs, err := s.store.AuditRecords(ctx, store.AuditFilter{VisitID: visitID, Action: "upload.completed", Objects: ids, Newest: true, Limit: len(ids)})
	if err != nil {
		return err
	}
	type uploaded struct {
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	recorded := map[string]uploaded{}
	records := map[string]store.AuditRecord{}
	for _, r := range recs {
		var up uploaded
		if json.Unmarshal([]byte(r.Detail), &up) == nil {
			recorded[r.Object], records[r.Object] = up, r
		}
	}
	for _, f := range files {
		r := records[f.ID]
		// The record is made as the file's row is, a moment apart.
		when := r.Time.Sub(f.UploadedAt).Abs() <= 2*time.Second
		who := f.UploadedBy == u.ID && r.ActorIssuer == u.Issuer && r.ActorSubject == u.Subject
		if up, ok := recorded[f.ID]; !ok || up.Size != f.Size || up.SHA256 != f.SHA256 || !when || !who {
			s.log.Error("receipt refused: the file's size, SHA-256, arrival time or uploader in the database is not what its upload recorded in the audit trail; check the trail with portal audit verify and the file with portal evidence verify",
				"visit", visitID, "file", f.ID, "recorded", ok)
			return errNotAsUploaded
		}
	}
	return nil
}

// newReceipt signs a receipt of files issued to u, sealed to be kept.
func (s *Service) newReceipt(v store.Visit, key *crypto.VisitKey, kind string, u store.User, files []store.File) (store.Receipt, error) {
	// Whole seconds, rounded up: never before a file it receipts arrived
	// (their times keep their fractions).
	issued := s.now().UTC()
	if t := issued.Truncate(time.Second); t.Before(issued) {
		issued = t.Add(time.Second)
	}
	r := receipt.Receipt{ID: store.NewID(), Kind: kind, VisitID: v.ID, Reference: v.Reference, IssuedAt: issued,
		Uploader: receipt.Uploader{Issuer: u.Issuer, Subject: u.Subject, Email: u.Email}}
	for _, f := range files {
		name, err := openName(key, f)
		if err != nil {
			return store.Receipt{}, err
		}
		r.Files = append(r.Files, receipt.File{ID: f.ID, Item: f.Item, Name: name, Size: f.Size, SHA256: f.SHA256, UploadedAt: f.UploadedAt})
	}
	signed, err := receipt.Sign(r, s.signer)
	if err != nil {
		return store.Receipt{}, err
	}
	row := store.Receipt{ID: r.ID, VisitID: v.ID, Kind: kind, IssuedTo: u.ID, IssuedAt: r.IssuedAt, SignedSealed: key.Seal(signed, receiptContext(v.ID, r.ID))}
	if kind == receipt.KindUpload {
		row.UploadOf = files[0].ID
	} else {
		for _, f := range r.Files {
			row.Files = append(row.Files, f.ID)
		}
	}
	return row, nil
}

// commitReceipt is an upload's receipt made to be kept with the file as
// it commits; issued records whether it was made. A receipt that cannot
// be made does not stop the upload: it is issued when asked for.
func (acc *Access) commitReceipt(key *crypto.VisitKey, issued *bool) func(f store.File) (*store.Receipt, []store.AuditRecord) {
	s, v := acc.svc, acc.Visit
	u := store.User{ID: acc.Actor.UserID, Issuer: acc.Actor.Issuer, Subject: acc.Actor.Subject, Email: acc.Actor.Email}
	return func(f store.File) (*store.Receipt, []store.AuditRecord) {
		row, err := s.newReceipt(v, key, receipt.KindUpload, u, []store.File{f})
		if err != nil {
			s.log.Error("upload receipt not made with the file: it will be issued after", "visit", v.ID, "file", f.ID, "err", err)
			return nil, nil
		}
		*issued = true
		return &row, []store.AuditRecord{s.systemRec(v.ID, "receipt.issued", row.ID, map[string]any{"kind": receipt.KindUpload, "file": f.ID})}
	}
}

// receiptOfUpload is the receipt of one completed upload, issued now if it
// was not when the upload completed (that is only logged when it fails:
// the file is stored either way).
func (s *Service) receiptOfUpload(ctx context.Context, v store.Visit, key *crypto.VisitKey, f store.File) (ReceiptView, error) {
	row, err := s.store.UploadReceipt(ctx, v.ID, f.ID)
	if errors.Is(err, store.ErrNotFound) {
		var view ReceiptView
		view, err = s.issueReceipt(ctx, v, key, receipt.KindUpload, f.UploadedBy, []store.File{f}, func(id string) store.AuditRecord {
			return s.systemRec(v.ID, "receipt.issued", id, map[string]any{"kind": receipt.KindUpload, "file": f.ID})
		})
		if !errors.Is(err, store.ErrConflict) {
			return view, err
		}
		row, err = s.store.UploadReceipt(ctx, v.ID, f.ID) // issued at the same moment elsewhere
	}
	if err != nil {
		return ReceiptView{}, err
	}
	return s.openReceipt(key, row)
}

// afterUpload issues a completed upload's receipt.
func (s *Service) afterUpload(ctx context.Context, v store.Visit, f store.File) {
	key, err := s.keys.Key(ctx, v.ID)
	if err == nil {
		_, err = s.receiptOfUpload(ctx, v, key, f)
	}
	if err != nil {
		s.log.Error("upload receipt not issued: it will be when asked for", "visit", v.ID, "file", f.ID, "err", err)
	}
}

func (s *Service) openReceipt(key *crypto.VisitKey, row store.Receipt) (ReceiptView, error) {
	signed, err := key.Open(row.SignedSealed, receiptContext(row.VisitID, row.ID))
	if err != nil {
		return ReceiptView{}, err
	}
	// Sealed under the visit key, it is as it was issued; it may have been
	// signed with a key since rotated, so it is read, not verified here.
	r, err := receipt.Parse(signed)
	if err != nil {
		return ReceiptView{}, err
	}
	return ReceiptView{Receipt: r, Signed: signed}, nil
}

// requireReceipt decides receipt.view on one receipt.
func (acc *Access) requireReceipt(ctx context.Context, id, issuedTo string) error {
	res, err := acc.resource(ctx, nil)
	if err != nil {
		return err
	}
	res.Receipt = &policy.Receipt{ID: id, IssuedTo: issuedTo}
	d := acc.svc.policy.Decide(acc.principal(), policy.ReceiptView, res)
	if !d.Allow {
		return acc.refuse(ctx, policy.ReceiptView, id, d)
	}
	return nil
}

// Receipt is one receipt of the visit, for the coordinator or the person
// it was issued to.
func (acc *Access) Receipt(ctx context.Context, id string) (ReceiptView, error) {
	if err := acc.require(ctx, policy.ReceiptView, nil); err != nil {
		return ReceiptView{}, err
	}
	if !IsID(id) {
		return ReceiptView{}, errNotFound
	}
	row, err := acc.svc.store.Receipt(ctx, acc.Visit.ID, id)
	if err != nil {
		return ReceiptView{}, err
	}
	if err := acc.requireReceipt(ctx, id, row.IssuedTo); err != nil {
		return ReceiptView{}, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return ReceiptView{}, err
	}
	return acc.svc.openReceipt(key, row)
}

// FileReceipt is the receipt of the upload of one file, for the
// coordinator or its uploader.
func (acc *Access) FileReceipt(ctx context.Context, fileID string) (ReceiptView, error) {
	if err := acc.require(ctx, policy.ReceiptView, nil); err != nil {
		return ReceiptView{}, err
	}
	if !IsID(fileID) {
		return ReceiptView{}, errNotFound
	}
	f, err := acc.svc.store.File(ctx, acc.Visit.ID, fileID)
	if err != nil {
		return ReceiptView{}, err
	}
	if err := acc.requireReceipt(ctx, "", f.UploadedBy); err != nil {
		return ReceiptView{}, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return ReceiptView{}, err
	}
	return acc.svc.receiptOfUpload(ctx, acc.Visit, key, f)
}

// ReceiptPageSize is how many receipts a page of the API's list holds, and
// the most a ReceiptQuery asks for.
const ReceiptPageSize = 100

// ReceiptQuery asks for a page of the receipts the actor may read, the
// latest first: Limit of them (ReceiptPageSize when 0) after the cursor a
// previous page gave (After, "" for the first); Count asks how many there
// are in all as well.
type ReceiptQuery struct {
	After string
	Limit int
	Count bool
}

// ReceiptList is a page of receipts; Next is the next page's cursor ("" on
// the last), Total how many the actor may read in all (when counted).
type ReceiptList struct {
	Receipts []ReceiptView
	Next     string
	Total    int
}

// Receipts lists a page of the visit's receipts the actor may read, the
// latest first. Every upload is receipted, so a visit holds as many
// receipts as files: a page is read, never the visit's whole list. Which
// receipts the actor may read is the policy's: asked once whether they
// may read a receipt issued to someone else (the coordinator), the page
// is of every receipt, or else of those issued to the actor (an
// uploader); each receipt read is then decided as well.
func (acc *Access) Receipts(ctx context.Context, q ReceiptQuery) (ReceiptList, error) {
	if err := acc.require(ctx, policy.ReceiptView, nil); err != nil {
		return ReceiptList{}, err
	}
	after, err := parseReceiptCursor(q.After)
	if err != nil {
		return ReceiptList{}, err
	}
	limit := q.Limit
	if limit <= 0 || limit > ReceiptPageSize {
		limit = ReceiptPageSize
	}
	res, err := acc.resource(ctx, nil)
	if err != nil {
		return ReceiptList{}, err
	}
	may := func(id, issuedTo string) bool {
		res.Receipt = &policy.Receipt{ID: id, IssuedTo: issuedTo}
		return acc.svc.policy.Decide(acc.principal(), policy.ReceiptView, res).Allow
	}
	issuedTo := ""
	if !may("", "") {
		if !may("", acc.Actor.UserID) {
			return ReceiptList{Receipts: []ReceiptView{}}, nil
		}
		issuedTo = acc.Actor.UserID
	}
	rows, err := acc.svc.store.ReceiptPage(ctx, acc.Visit.ID, issuedTo, after, limit)
	if err != nil {
		return ReceiptList{}, err
	}
	out := ReceiptList{Receipts: make([]ReceiptView, 0, len(rows))}
	if len(rows) > 0 {
		key, err := acc.key(ctx)
		if err != nil {
			return ReceiptList{}, err
		}
		for _, row := range rows {
			if !may(row.ID, row.IssuedTo) {
				continue
			}
			v, err := acc.svc.openReceipt(key, row)
			if err != nil {
				return ReceiptList{}, err
			}
			out.Receipts = append(out.Receipts, v)
		}
		if len(rows) == limit {
			last := rows[len(rows)-1]
			out.Next = receiptCursor(last.IssuedAt, last.ID)
		}
	}
	if q.Count {
		if out.Total, err = acc.svc.store.ReceiptCount(ctx, acc.Visit.ID, issuedTo); err != nil {
			return ReceiptList{}, err
		}
	}
	return out, nil
}

func receiptCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + "\n" + id))
}

func parseReceiptCursor(c string) (store.ReceiptCursor, error) {
	if c == "" {
		return store.ReceiptCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	at, id, ok := strings.Cut(string(b), "\n")
	t, terr := time.Parse(time.RFC3339Nano, at)
	if err != nil || !ok || terr != nil || !IsID(id) {
		return store.ReceiptCursor{}, invalid("after", "This page of receipts does not exist: go back to the first page.")
	}
	return store.ReceiptCursor{IssuedAt: t, ID: id}, nil
}

// IssueBatchReceipt signs one receipt listing a batch of the actor's own
// completed uploads (the files sent together from the upload page).
func (acc *Access) IssueBatchReceipt(ctx context.Context, fileIDs []string) (ReceiptView, error) {
	if err := acc.require(ctx, policy.ReceiptIssue, nil); err != nil {
		return ReceiptView{}, err
	}
	if len(fileIDs) == 0 || len(fileIDs) > MaxBatch {
		return ReceiptView{}, invalidf("files", "A receipt lists between 1 and %d files.", MaxBatch)
	}
	var files []store.File
	seen := map[string]bool{}
	for _, id := range fileIDs {
		if !IsID(id) {
			return ReceiptView{}, invalid("files", "A file in the batch does not exist.")
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		f, err := acc.svc.store.File(ctx, acc.Visit.ID, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && f.UploadedBy != acc.Actor.UserID {
			// Only what one sent oneself is receipted to one.
			return ReceiptView{}, invalid("files", "A receipt lists only files you uploaded to this visit.")
		}
		if err != nil {
			return ReceiptView{}, err
		}
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b store.File) int { return a.UploadedAt.Compare(b.UploadedAt) })
	key, err := acc.key(ctx)
	if err != nil {
		return ReceiptView{}, err
	}
	view, err := acc.svc.issueReceipt(ctx, acc.Visit, key, receipt.KindBatch, acc.Actor.UserID, files, func(id string) store.AuditRecord {
		return acc.rec("receipt.issued", id, "success", map[string]any{"kind": receipt.KindBatch, "files": len(files)})
	})
	if errors.Is(err, store.ErrNotFound) { // a file purged as it was signed
		return ReceiptView{}, invalid("files", "A receipt lists only files you uploaded to this visit.")
	}
	return view, err
}
