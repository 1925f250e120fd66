package portal

import (
	"encoding/json"
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

// notesFor is what one audit record calls for.
func (s *Service) notesFor(r store.AuditRecord) []store.Outgoing {
	if r.Outcome != "success" || r.VisitID == "" {
		return nil
	}
	day := calendar.Today(r.Time).Format(time.DateOnly)
	one := func(kind string, to store.Audience, data map[string]string) []store.Outgoing {
		return []store.Outgoing{{Kind: kind, VisitID: r.VisitID, To: to, Data: data}}
	}
	switch r.Action {
	case "member.added":
		if r.Object == "" {
			return nil
		}
		return one(NoteMemberAdded, store.Audience{MemberID: r.Object}, nil)
	case "request.item_added":
		if detailString(r.Detail, "kind") != "case_file" {
			return nil
		}
		return []store.Outgoing{batched(NoteCasesNamed, r, providerStaff, casesBatch)}
	case "upload.completed":
		// Counted once the team may see it: a file waiting for the
		// scanner when the scanner clears it (file.scanned), an infected
		// one never.
		if scanWithheld(detailString(r.Detail, "scan")) {
			return nil
		}
		return []store.Outgoing{batched(NoteFilesArrived, r, leadOnly, filesDigestEvery)}
	case "file.scanned":
		if detailString(r.Detail, "scan") != store.ScanClean || detailString(r.Detail, "was") != store.ScanScanning {
			return nil
		}
		return []store.Outgoing{batched(NoteFilesArrived, r, leadOnly, filesDigestEvery)}
	case "file.scan_released":
		// Served unscanned from now on, by an operator's decision.
		return []store.Outgoing{batched(NoteFilesArrived, r, leadOnly, filesDigestEvery)}
	case "question.asked", "question.replied":
		// The other side is told, in batches, with the count only: the
		// provider's questions reach the lead inspector, the team's the
		// provider coordinator (both see every item and file).
		to := []string{policy.RoleProviderCoordinator}
		if detailString(r.Detail, "side") == store.SideProvider {
			to = leadOnly
		}
		return []store.Outgoing{batched(NoteQuestions, r, to, casesBatch)}
	case "legal_hold.set", "legal_hold.lifted":
		kind := NoteLegalHoldSet
		if r.Action == "legal_hold.lifted" {
			kind = NoteLegalHoldLifted
		}
		return one(kind, store.Audience{Roles: leadOnly, Admins: true}, map[string]string{"date": day})
	case "file.purged":
		// The lead inspector and the uploader: the visit, the date and
		// nothing of the file (its name is evidence).
		data := map[string]string{"date": day}
		out := one(NoteFilePurged, store.Audience{Roles: leadOnly}, data)
		if m := detailString(r.Detail, "uploader_member"); m != "" {
			out = append(out, one(NoteFilePurged, store.Audience{MemberID: m}, data)...)
		}
		return out
	case "destruction.notice":
		// The date the sweep may destroy the visit from: its destruction
		// date, or the day its notice runs to when given late (again
		// after a legal hold was lifted, say).
		date := detailString(r.Detail, "destroy_on")
		if after, err := time.Parse(time.RFC3339, detailString(r.Detail, "destroy_after")); err == nil {
			date = max(date, after.In(calendar.London).Format(time.DateOnly))
		}
		return one(NoteDestructionNotice, store.Audience{Admins: true}, map[string]string{"date": date})
	case "destruction.failed":
		// The sweep retries with backoff: administrators hear once a day.
		return []store.Outgoing{{Kind: NoteDestructionFailed, VisitID: r.VisitID, To: store.Audience{Admins: true}, Period: day,
			Data: map[string]string{"date": day}}}
	case "destruction.certificate_issued":
		return one(NoteDestructionDone, store.Audience{Admins: true}, map[string]string{"date": day})
	}
	return nil
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
