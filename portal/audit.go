package portal

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// detailJSON encodes an audit record's details.
func detailJSON(d map[string]any) string {
	if len(d) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(d)
	return string(b)
}

// actorRec describes an act by a, now, on no visit.
func (s *Service) actorRec(a Actor, action, object, outcome string, detail map[string]any) store.AuditRecord {
	return newRec(s.now(), a, action, object, outcome, detail)
}

// newRec describes an act by a at t. Object is an id, never a name.
func newRec(t time.Time, a Actor, action, object, outcome string, detail map[string]any) store.AuditRecord {
	r := store.AuditRecord{
		Time: t, Action: action, Object: object, Outcome: outcome, Detail: detailJSON(detail),
		ActorIssuer: text(a.Issuer), ActorSubject: text(a.Subject), ActorEmail: text(a.Email),
		ClientIP: text(a.ClientIP), UserAgent: truncate(text(a.UserAgent), 300), RequestID: text(a.RequestID),
	}
	switch {
	case a.System:
		r.Role = "system"
	case a.Operator != "":
		r.Role = "operator"
	case a.Administrator:
		r.Role = "administrator"
	}
	return r
}

// rec describes an act by the actor on acc's visit.
func (acc *Access) rec(action, object, outcome string, detail map[string]any) store.AuditRecord {
	r := acc.svc.actorRec(acc.Actor, action, object, outcome, detail)
	r.VisitID = acc.Visit.ID
	if role := acc.Role(); role != "" {
		r.Role = role
	}
	if outcome == "success" && acc.administratorsAct() {
		// An administrator who is also a member, acting as only an
		// administrator may (a legal hold): recorded as theirs.
		r.Role = "administrator"
	}
	return r
}

// recorder describes the acts of an upload (started, completed, failed) as
// done by the actor.
func (acc *Access) recorder() func(action, outcome, fileID string, detail map[string]any) store.AuditRecord {
	return func(action, outcome, fileID string, detail map[string]any) store.AuditRecord {
		return acc.rec(action, fileID, outcome, detail)
	}
}

// systemRec describes an act of the portal itself.
func (s *Service) systemRec(visitID, action, object string, detail map[string]any) store.AuditRecord {
	return store.AuditRecord{Time: s.now(), ActorSubject: "portal", Role: "system", VisitID: visitID, Action: action, Object: object,
		Outcome: "success", Detail: detailJSON(detail)}
}

// truncate cuts s to at most n bytes, at a character's start.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// text is a value that came from outside (a request's header, a
// provider's claim) as the trail can keep it: UTF-8, each byte that is not
// (HTTP allows them in a header) and each NUL replaced by U+FFFD. A record
// is hashed over JSON, which holds only UTF-8, so bytes kept as they came
// would not be covered by the hash, and PostgreSQL refuses them: the
// record, a refusal's too, could not be written.
func text(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// RecordStart records that the portal started serving, with its
// configuration (no secrets).
func (s *Service) RecordStart(ctx context.Context) error {
	var idps []string
	for _, p := range s.cfg.IdPs {
		idps = append(idps, p.Name+"="+p.Issuer+" ("+p.Organisation+")")
	}
	return s.store.Audit(ctx, s.systemRec("", "portal.started", "", map[string]any{
		"public_url": s.cfg.PublicURL, "dev": s.cfg.Dev, "database": DatabaseName(s.cfg), "identity_providers": idps, "s3_endpoint": s.cfg.S3Endpoint,
		"bucket_prefix": s.cfg.BucketPrefix, "max_file_size": s.cfg.MaxFileSize, "segment_size": s.cfg.SegmentSize,
		"session_idle": s.cfg.SessionIdle.String(), "session_lifetime": s.cfg.SessionLifetime.String(),
		"retention_days": s.cfg.RetentionDays, "master_recipients": s.keys.Master().Recipients(),
		"signing_key": base64.StdEncoding.EncodeToString(s.signer.Public().(ed25519.PublicKey)),
	}))
}

// Checkpoint signs the chain head when enough has happened since the last
// checkpoint: every checkpointEvery records or checkpointAfter; force signs
// any new head (at shutdown).
const (
	checkpointEvery = 100
	checkpointAfter = 10 * time.Minute
)

// Checkpoint signs the audit chain's head (see checkpointEvery) and
// anchors the latest checkpoint outside the database.
func (s *Service) Checkpoint(ctx context.Context, force bool) error {
	// The latest checkpoint before the head: another replica appends
	// and signs between the two reads, and a checkpoint read after the
	// head could be beyond it, taken below for a forged one.
	last, err := s.store.LastCheckpoint(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s.dbErr(ctx, "checkpoint", err)
	}
	lastErr := err
	seq, hash, err := s.store.AuditHead(ctx)
	if err != nil || seq == 0 {
		return s.dbErr(ctx, "checkpoint", err)
	}
	err = lastErr
	if err == nil && (last.Seq > seq || !last.SignedBy(s.SigningPublicKey())) {
		// Not a checkpoint of this key over this trail: a row written by
		// someone who can write to the database (which, taken as the
		// last, would be anchored outside it for good and, dated ahead,
		// stop every later checkpoint), or one signed before the signing
		// key was replaced. The head is signed anew, and the next when due
		// after the last this process signed.
		if s.foreignCheckpoint.Swap(last.Seq) != last.Seq {
			s.log.Error("the latest audit checkpoint in the database is not signed by this portal's key, or is beyond the trail's head: signing the head anew; check the trail with portal audit verify",
				"checkpoint", last.Seq, "head", seq)
		}
		if own := s.ownCheckpoint.Load(); own != nil && own.Seq <= seq {
			last = *own
		} else {
			err = store.ErrNotFound
		}
	}
	// When it was signed is not signed: one dated ahead of the clock (by
	// more than clocks kept in time differ) is taken as due, or a date
	// written ahead would put the next off until then.
	due := s.now().Sub(last.SignedAt) >= checkpointAfter || last.SignedAt.After(s.now().Add(time.Minute))
	if err != nil || last.Seq != seq && (force || seq-last.Seq >= checkpointEvery || due) {
		last = store.SignCheckpoint(seq, hash, s.now(), s.signer)
		if err := s.store.AddCheckpoint(ctx, last); err != nil {
			return s.dbErr(ctx, "checkpoint", err)
		}
		s.ownCheckpoint.Store(&last)
	}
	s.checkpointed.Store(last.Seq)
	// The acts that ended someone's access go outside before the anchor
	// that covers their records, so that a restore ends again all the
	// access ended up to the last anchor: the trail outside the database
	// does not go on without them.
	if err := s.noteAccessEnded(ctx, last.Seq); err != nil {
		return fmt.Errorf("audit anchor %d: access ended, noted outside the database: %w", last.Seq, err)
	}
	return s.anchor(ctx, last)
}

// dbErr counts err, when there is one and the work was not called off, as
// a database error seen at op.
func (s *Service) dbErr(ctx context.Context, op string, err error) error {
	if err != nil && ctx.Err() == nil {
		s.metrics.DatabaseError(op)
	}
	return err
}

// anchor writes a checkpoint outside the database, once.
func (s *Service) anchor(ctx context.Context, c store.Checkpoint) error {
	s.anchorMu.Lock()
	defer s.anchorMu.Unlock()
	if c.Seq <= s.anchored {
		return nil
	}
	a, err := s.openAnchors(ctx)
	if err != nil {
		return err
	}
	if err := a.Put(ctx, c); err != nil {
		return fmt.Errorf("audit anchor %d: %w", c.Seq, err)
	}
	s.anchored = c.Seq
	return nil
}

// openAnchors opens the anchor store once; the caller holds anchorMu.
func (s *Service) openAnchors(ctx context.Context) (Anchors, error) {
	if s.anchors == nil {
		a, err := OpenAnchors(ctx, s.cfg, s.blobs)
		if err != nil {
			return nil, fmt.Errorf("audit anchors: %w", err)
		}
		s.anchors = a
		s.log.Info("audit checkpoints are anchored outside the database", "where", a.Where())
	}
	return s.anchors, nil
}

// putOutside keeps a destruction's signed record in the anchor store.
func (s *Service) putOutside(ctx context.Context, name string, body []byte) error {
	s.anchorMu.Lock()
	defer s.anchorMu.Unlock()
	a, err := s.openAnchors(ctx)
	if err != nil {
		return err
	}
	if err := a.PutRecord(ctx, name, body); err != nil {
		return fmt.Errorf("outside the database: %s: %w", name, err)
	}
	return nil
}

// issuedOutside returns visitID's certificate in the anchor store, signed
// with the portal's key (the first issued, should there be more than one;
// nil when there is none): a destruction that stopped after writing it
// there records that one (retention.Service.Issued).
func (s *Service) issuedOutside(ctx context.Context, visitID string) ([]byte, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return nil, err
	}
	name := retention.CertificateName(visitID)
	objs, err := a.Records(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("outside the database: %s: %w", name, err)
	}
	var first []byte
	var at time.Time
	for _, b := range objs[name] {
		c, err := retention.Verify(b, s.SigningPublicKey())
		if err != nil || c.VisitID != visitID {
			continue
		}
		if first == nil || c.IssuedAt.Before(at) {
			first, at = b, c.IssuedAt
		}
	}
	return first, nil
}

// checkpoints signs (and anchors) the head every checkpointEvery records,
// told by the store after each commit, or checkpointAfter.
func (s *Service) checkpoints(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var uncovered time.Time
	for {
		err := s.Checkpoint(ctx, false)
		if err != nil && ctx.Err() == nil {
			s.log.Error("audit checkpoint", "err", err)
		}
		uncovered = s.coverage(ctx, err, uncovered)
		select {
		case <-ctx.Done():
			return
		case <-s.appended:
		case <-t.C:
		}
	}
}

// coverage reports since when the trail has held records that no anchored
// checkpoint covers: a checkpoint is signed only every checkpointEvery
// records or checkpointAfter, so a few minutes uncovered is normal, and
// hours mean checkpoints are failing. It returns the new "since".
func (s *Service) coverage(ctx context.Context, checkpointErr error, since time.Time) time.Time {
	covered := false
	if checkpointErr == nil {
		seq, _, err := s.store.AuditHead(ctx)
		s.anchorMu.Lock()
		covered = err == nil && seq <= s.anchored
		s.anchorMu.Unlock()
	}
	switch {
	case covered:
		since = time.Time{}
	case since.IsZero():
		since = time.Now()
	}
	s.metrics.AuditUncovered(since)
	return since
}

// AuditQuery selects records of a visit's trail. Values are as a person
// typed them: dates YYYY-MM-DD, After a record number, Limit 1 to 5000
// (default 200). Action matches exactly, or as a prefix when it ends in ".".
type AuditQuery struct {
	Actor, Action, From, To, After, Limit string
}

// AuditTrail is a page of a visit's trail with what an auditor needs to
// check it.
type AuditTrail struct {
	Records    []store.AuditRecord `json:"records"`
	NextAfter  int64               `json:"next_after,omitempty"`
	Checkpoint *store.Checkpoint   `json:"checkpoint,omitempty"`
	Verify     string              `json:"verify"`
	Filter     store.AuditFilter   `json:"-"`
}

func parseAuditQuery(q AuditQuery, visitID string) (store.AuditFilter, error) {
	// Emails compare without case (the trail holds them as providers
	// gave them, lower-cased at sign-in).
	f := store.AuditFilter{VisitID: visitID, ActorEmail: strings.ToLower(strings.TrimSpace(q.Actor)), Action: q.Action, Limit: auditPage}
	if q.From != "" {
		d, err := calendar.ParseDate(q.From)
		if err != nil {
			return f, invalid("from", "from must be a date in the form YYYY-MM-DD.")
		}
		f.From = calendar.StartOfDay(d)
	}
	if q.To != "" {
		d, err := calendar.ParseDate(q.To)
		if err != nil {
			return f, invalid("to", "to must be a date in the form YYYY-MM-DD.")
		}
		f.To = calendar.StartOfDay(d.AddDate(0, 0, 1))
	}
	if q.After != "" {
		n, err := strconv.ParseInt(q.After, 10, 64)
		if err != nil || n < 0 {
			return f, invalid("after", "after must be a record number.")
		}
		f.AfterSeq = n
	}
	if q.Limit != "" {
		n, err := strconv.Atoi(q.Limit)
		if err != nil || n < 1 || n > 5000 {
			return f, invalid("limit", "limit must be between 1 and 5000.")
		}
		f.Limit = n
	}
	return f, nil
}

// AuditTrail returns the visit's trail, filtered and paginated. Each record
// carries its prev_hash and hash, and the trail the latest signed
// checkpoint.
func (acc *Access) AuditTrail(ctx context.Context, q AuditQuery) (AuditTrail, error) {
	if err := acc.require(ctx, policy.AuditView, nil); err != nil {
		return AuditTrail{}, err
	}
	f, err := parseAuditQuery(q, acc.Visit.ID)
	if err != nil {
		return AuditTrail{}, err
	}
	recs, err := acc.svc.store.AuditRecords(ctx, f)
	if err != nil {
		return AuditTrail{}, err
	}
	out := AuditTrail{Records: recs, Filter: f,
		Verify: "hash = SHA-256(prev_hash bytes ‖ JSON of the record with hash empty and time in UTC); checkpoints sign \"seq:hash\" with Ed25519"}
	if out.Records == nil {
		out.Records = []store.AuditRecord{}
	}
	if len(recs) == f.Limit {
		out.NextAfter = recs[len(recs)-1].Seq
	}
	if c, err := acc.svc.store.LastCheckpoint(ctx); err == nil {
		out.Checkpoint = &c
	}
	return out, nil
}

// auditPage is a page of the trail in the JSON API, unless a limit is
// given.
const auditPage = 200

// exportPage is how many records an export reads per statement after its
// first, which reads a page of the JSON API's size (auditPage), so that the
// export's first byte comes as soon as that page would: a first read of
// 5,000 records of a visit of millions put it ten times later.
const exportPage = 5000

// ExportAuditTrail reads the visit's trail as AuditTrail filters it, but
// every record the filter selects (at most Limit, when one is given), a
// page at a time in sequence order, and hands each page to each as it is
// read (at least once, with no records when none match). An export is the
// trail a records manager keeps: it is never cut at the API's page, and
// never held whole in memory. Access is decided again as it goes: one
// whose access ends part-way gets the refusal. An export that ends before
// its end has a second record, as a cut download has (exportCut).
func (acc *Access) ExportAuditTrail(ctx context.Context, q AuditQuery, each func([]store.AuditRecord) error) error {
	if err := acc.require(ctx, policy.AuditView, nil); err != nil {
		return err
	}
	f, err := parseAuditQuery(q, acc.Visit.ID)
	if err != nil {
		return err
	}
	// An export is a copy of the trail leaving the portal, as a download
	// is of a file: it is recorded before the first record is read (so an
	// export of the whole trail ends with its own record), and an export
	// that cannot be recorded is refused.
	if err := acc.svc.store.Audit(ctx, acc.rec(ActionAuditExported, "", "success", exportDetail(q))); err != nil {
		return err
	}
	sent := 0
	if err := acc.exportPages(ctx, q, f, func(recs []store.AuditRecord) error {
		if err := each(recs); err != nil {
			return &exportWriteError{err}
		}
		sent += len(recs)
		return nil
	}); err != nil {
		acc.exportCut(ctx, q, sent, err)
		return err
	}
	return nil
}

// exportPages reads what the export's filter f selects, a page at a time,
// and hands each page to each.
func (acc *Access) exportPages(ctx context.Context, q AuditQuery, f store.AuditFilter, each func([]store.AuditRecord) error) error {
	left := -1 // no limit
	if q.Limit != "" {
		left = f.Limit
	}
	size := auditPage
	// An export of millions of records takes minutes: the decision is
	// taken again before each read once it is older than a moment, so a
	// person removed meanwhile receives no more (as a download).
	recheck := acc.recheck(policy.AuditView)
	for {
		f.Limit = size
		if left >= 0 {
			f.Limit = min(left, size)
		}
		size = exportPage
		if err := recheck(ctx); err != nil {
			return err
		}
		recs, err := acc.svc.store.AuditRecords(ctx, f)
		if err != nil {
			return err
		}
		if err := each(recs); err != nil {
			return err
		}
		if left >= 0 {
			left -= len(recs)
		}
		if len(recs) < f.Limit || left == 0 {
			return nil
		}
		f.AfterSeq = recs[len(recs)-1].Seq
	}
}

// exportWriteError is a failure to send a page of an export to its reader.
type exportWriteError struct{ error }

func (e *exportWriteError) Unwrap() error { return e.error }

// exportCut records that an export ended before its end, with the records
// of the pages written to the reader (sent; of a page whose write failed,
// some may have gone): "refused" when its reader's access
// ended while it ran (the refusal has its own record), "interrupted" when
// the reader went (a failed write, or the request ended), else "failed"
// (the trail could not be read). The export's first record says what was
// asked for; without this one, a copy cut short would read in the trail
// as the whole.
func (acc *Access) exportCut(ctx context.Context, q AuditQuery, sent int, err error) {
	detail := exportDetail(q)
	detail["records_sent"] = sent
	rec := acc.rec(ActionAuditExported, "", exportCutOutcome(ctx, err), detail)
	if err := acc.svc.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
		acc.svc.log.Error("record a cut export", "visit", acc.Visit.ID, "err", err)
	}
}

// exportCutOutcome is the outcome recorded for an export that err stopped.
func exportCutOutcome(ctx context.Context, err error) string {
	var write *exportWriteError
	switch {
	case isRefusal(err):
		return "refused"
	case errors.As(err, &write), ctx.Err() != nil:
		return "interrupted"
	}
	return "failed"
}

// ActionAuditExported records an export of a visit's trail.
const ActionAuditExported = "audit.exported"

// exportDetail is what an export asked for: the filter, as given.
func exportDetail(q AuditQuery) map[string]any {
	d := map[string]any{}
	for k, v := range map[string]string{"actor": q.Actor, "kind": q.Action, "from": q.From, "to": q.To, "after": q.After, "limit": q.Limit} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// ActivityItem is one of a person's own recent acts.
type ActivityItem struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	VisitID string    `json:"visit_id,omitempty"`
	Object  string    `json:"object,omitempty"`
	// Outcome is the record's: a download "success" when it began,
	// then "interrupted", "refused", "corrupt" or "not_sent" (a file of
	// a zip cut before it) when it did not go whole.
	Outcome string `json:"outcome"`
	IP      string `json:"client_ip"`
}

// Activity is the actor's own recent sign-ins and downloads, newest first.
func (s *Service) Activity(ctx context.Context, a Actor) ([]ActivityItem, error) {
	if _, err := s.Authorize(ctx, a, policy.SelfView, "", ""); err != nil {
		return nil, err
	}
	recs, err := s.store.AuditRecords(ctx, store.AuditFilter{Issuer: a.Issuer, Subject: a.Subject,
		Actions: []string{"signin", "signout", "file.download"}, Newest: true, Limit: 50})
	if err != nil {
		return nil, err
	}
	out := []ActivityItem{}
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		out = append(out, ActivityItem{r.Time, r.Action, r.VisitID, r.Object, r.Outcome, r.ClientIP})
	}
	return out, nil
}
