package portal

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Notifications by mail: who is told what (README: Notifications). The
// acts' own audit records say what happened; notesFor turns them into
// outbox rows written in the act's transaction (store.OnAudit), so a
// notification exists exactly when its act does. Nothing is copied from a
// record's detail but dates: mail carries the visit reference, counts,
// dates and links, never a name, a title or free text.

// The kinds of notification; DigestKinds are those a person may switch off.
const (
	NoteMemberAdded       = "member_added"
	NoteCasesNamed        = "cases_named"
	NoteProviderDigest    = "provider_digest"
	NoteFilesArrived      = "files_arrived"
	NoteAccessClosing     = "access_closing"
	NoteDestructionNotice = "destruction_notice"
	NoteDestructionReview = "destruction_review"
	NoteDestructionFailed = "destruction_failed"
	NoteDestructionDone   = "destruction_done"
	NoteLegalHoldSet      = "legal_hold_set"
	NoteLegalHoldLifted   = "legal_hold_lifted"
	NoteFilePurged        = "file_purged"
	NoteQuestions         = "questions"
	NotePublicationLate   = "publication_late"
)

// DigestKinds are the summaries each person may switch off on "Your
// notifications"; messages about their own access or a destruction are
// always sent.
var DigestKinds = []string{NoteCasesNamed, NoteProviderDigest, NoteFilesArrived}

// IsDigest reports whether kind may be switched off.
func IsDigest(kind string) bool {
	for _, k := range DigestKinds {
		if k == kind {
			return true
		}
	}
	return false
}

var (
	providerStaff = []string{policy.RoleProviderCoordinator, policy.RoleProviderUploader}
	leadOnly      = []string{policy.RoleLeadInspector}
)

const (
	// filesDigestEvery is how often at most the lead inspector hears of
	// files arriving; casesBatch gathers cases named together into one
	// message.
	filesDigestEvery = time.Hour
	casesBatch       = 10 * time.Minute
)

// notesFor is what one audit record calls for. A count of files or
// questions, or a purge, is told only to the roles that may see the file,
// item or thread it is about, as the act's transaction leaves them (rd):
// a restricted item, an unfiled file or one withheld until scanned is, to
// a role that may not see it, not there, and neither is its mail.
func (s *Service) notesFor(ctx context.Context, rd store.NoteReader, r store.AuditRecord) ([]store.Outgoing, error) {
	if r.Outcome != "success" || r.VisitID == "" {
		return nil, nil
	}
	out, err := s.notesOf(ctx, rd, r)
	if err != nil {
		return nil, err
	}
	// An audience left with no role, no member and no administrator
	// tells nobody.
	return slices.DeleteFunc(out, func(o store.Outgoing) bool {
		return len(o.To.Roles) == 0 && o.To.MemberID == "" && !o.To.Admins
	}), nil
}

func (s *Service) notesOf(ctx context.Context, rd store.NoteReader, r store.AuditRecord) ([]store.Outgoing, error) {
	day := calendar.Today(r.Time).Format(time.DateOnly)
	one := func(kind string, to store.Audience, data map[string]string) []store.Outgoing {
		return []store.Outgoing{{Kind: kind, VisitID: r.VisitID, To: to, Data: data}}
	}
	switch r.Action {
	case "member.added":
		if r.Object == "" {
			return nil, nil
		}
		return one(NoteMemberAdded, store.Audience{MemberID: r.Object}, nil), nil
	case "request.item_added":
		if detailString(r.Detail, "kind") != "case_file" {
			return nil, nil
		}
		return []store.Outgoing{batched(NoteCasesNamed, r, providerStaff, casesBatch)}, nil
	case "upload.completed", "file.scanned", "file.scan_released":
		// Counted once the team may see it: a file waiting for the
		// scanner when the scanner clears it (file.scanned), an infected
		// one never; one released unscanned by an operator's decision
		// (file.scan_released) from then on.
		if r.Action == "upload.completed" && scanWithheld(detailString(r.Detail, "scan")) {
			return nil, nil
		}
		if r.Action == "file.scanned" && (detailString(r.Detail, "scan") != store.ScanClean || detailString(r.Detail, "was") != store.ScanScanning) {
			return nil, nil
		}
		// An upload's record says the item and the scanner's verdict
		// the file was committed with, in this transaction: one read
		// fewer for every file. A verdict or a release comes later: the
		// file is read as it now stands.
		item, scan := detailString(r.Detail, "item"), detailString(r.Detail, "scan")
		if r.Action != "upload.completed" {
			f, err := rd.File(ctx, r.VisitID, r.Object)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			item, scan = f.Item, f.Scan
		}
		res, err := s.fileResource(ctx, rd, r.VisitID, r.Object, item, scan)
		if err != nil {
			return nil, err
		}
		o := batched(NoteFilesArrived, r, s.rolesSeeing(leadOnly, policy.FileList, res), filesDigestEvery)
		return []store.Outgoing{o}, nil
	case "question.asked", "question.replied":
		// The other side is told, in batches, with the count only: the
		// provider's questions reach the lead inspector, the team's the
		// provider coordinator, each only on a thread they may see.
		to := []string{policy.RoleProviderCoordinator}
		if detailString(r.Detail, "side") == store.SideProvider {
			to = leadOnly
		}
		q, err := rd.Question(ctx, r.VisitID, r.Object)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		res, err := s.threadResource(ctx, rd, q)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // a thread on a file no longer there
		}
		if err != nil {
			return nil, err
		}
		return []store.Outgoing{batched(NoteQuestions, r, s.rolesSeeing(to, policy.QuestionView, res), casesBatch)}, nil
	case "legal_hold.set", "legal_hold.lifted":
		kind := NoteLegalHoldSet
		if r.Action == "legal_hold.lifted" {
			kind = NoteLegalHoldLifted
		}
		return one(kind, store.Audience{Roles: leadOnly, Admins: true}, map[string]string{"date": day}), nil
	case "file.purged":
		// The uploader, and the lead inspector if they could see the
		// file: the visit, the date and nothing of the file (its name is
		// evidence).
		data := map[string]string{"date": day}
		res, err := s.fileResource(ctx, rd, r.VisitID, r.Object, detailString(r.Detail, "item"), detailString(r.Detail, "scan"))
		if err != nil {
			return nil, err
		}
		out := one(NoteFilePurged, store.Audience{Roles: s.rolesSeeing(leadOnly, policy.FileList, res)}, data)
		if m := detailString(r.Detail, "uploader_member"); m != "" {
			out = append(out, one(NoteFilePurged, store.Audience{MemberID: m}, data)...)
		}
		return out, nil
	case "destruction.notice":
		// The date the sweep may destroy the visit from: its destruction
		// date, or the day its notice runs to when given late (again
		// after a legal hold was lifted, say).
		date := detailString(r.Detail, "destroy_on")
		if after, err := time.Parse(time.RFC3339, detailString(r.Detail, "destroy_after")); err == nil {
			date = max(date, after.In(calendar.London).Format(time.DateOnly))
		}
		return one(NoteDestructionNotice, store.Audience{Admins: true}, map[string]string{"date": date}), nil
	case "destruction.failed":
		// The sweep retries with backoff: administrators hear once a day.
		return []store.Outgoing{{Kind: NoteDestructionFailed, VisitID: r.VisitID, To: store.Audience{Admins: true}, Period: day,
			Data: map[string]string{"date": day}}}, nil
	case "destruction.certificate_issued":
		return one(NoteDestructionDone, store.Audience{Admins: true}, map[string]string{"date": day}), nil
	}
	return nil, nil
}

// fileResource is the file fileID of the visit, filed under item with
// the scanner's verdict scan, as policy sees it, with its item's
// restriction as rd reads it, matched as access matches it (itemKey).
func (s *Service) fileResource(ctx context.Context, rd store.NoteReader, visitID, fileID, item, scan string) (policy.Resource, error) {
	rs, err := itemRestriction(ctx, rd, visitID, item)
	if err != nil {
		return policy.Resource{}, err
	}
	return policy.Resource{VisitID: visitID, File: &policy.File{ID: fileID, Item: item, Restricted: rs.Restricted, Roles: rs.Roles, Scan: scan}}, nil
}

// threadResource is what a thread is about, as policy sees it: its file,
// or its item (none: the visit's unfiled questions).
func (s *Service) threadResource(ctx context.Context, rd store.NoteReader, q store.Question) (policy.Resource, error) {
	if q.FileID != "" {
		f, err := rd.File(ctx, q.VisitID, q.FileID)
		if err != nil {
			return policy.Resource{}, err
		}
		return s.fileResource(ctx, rd, q.VisitID, f.ID, f.Item, f.Scan)
	}
	rs, err := itemRestriction(ctx, rd, q.VisitID, q.Item)
	if err != nil {
		return policy.Resource{}, err
	}
	return policy.Resource{VisitID: q.VisitID, Item: &policy.Item{Code: q.Item, Restricted: rs.Restricted, Roles: rs.Roles}}, nil
}

// itemRestriction is the restriction of the visit's item as rd reads
// it, matched by itemKey as Access.restriction matches it: a restriction
// stored under another form of the item's number (before there was one
// form) holds for its mail as for its lists.
func itemRestriction(ctx context.Context, rd store.NoteReader, visitID, item string) (store.Restriction, error) {
	rs, err := rd.Restrictions(ctx, visitID)
	if err != nil {
		return store.Restriction{}, err
	}
	return restrictionOf(rs, visitID, item), nil
}

// rolesSeeing is those of roles whose members, their access open, may do
// action on res: who may be told of it. Whether each member's access is
// open when the mail goes is the sender's to check (deliver).
func (s *Service) rolesSeeing(roles []string, action policy.Action, res policy.Resource) []string {
	var out []string
	for _, role := range roles {
		if s.policy.Decide(policy.Principal{UserID: "recipient", Role: role, InWindow: true}, action, res).Allow {
			out = append(out, role)
		}
	}
	return out
}

// batched is a digest row of the period of length every that r falls in,
// sent when the period ends; each act adds one to its count.
func batched(kind string, r store.AuditRecord, roles []string, every time.Duration) store.Outgoing {
	start := r.Time.Truncate(every)
	return store.Outgoing{Kind: kind, VisitID: r.VisitID, To: store.Audience{Roles: roles}, Period: start.UTC().Format(time.RFC3339),
		Accumulate: true, Count: 1, Due: start.Add(every), Data: map[string]string{"date": start.Add(every).Format(time.RFC3339)}}
}

// detailString reads one string field of a record's detail.
func detailString(detail, key string) string {
	var m map[string]any
	if json.Unmarshal([]byte(detail), &m) != nil {
		return ""
	}
	v, _ := m[key].(string)
	return v
}
