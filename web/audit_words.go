package web

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// The audit trail for people: each act in words, the file's name for those
// who may see the file, details as text. The trail itself, and its CSV and
// JSON exports, keep the codes.

// actionWords says what the person did, after their name.
var actionWords = map[string]string{
	"file.download":                    "downloaded",
	"archive.download":                 "downloaded a zip of files",
	"upload.started":                   "started to upload",
	"upload.completed":                 "uploaded",
	"upload.failed":                    "could not upload",
	"file.deleted":                     "deleted",
	"file.refiled":                     "filed under another item",
	"file.scanned":                     "scanned for malware",
	"file.infected":                    "found malware in",
	"file.scan_released":               "released without a malware scan",
	"member.added":                     "added a member",
	"member.changed":                   "changed the role of",
	"member.removed":                   "removed a member",
	"member.bound":                     "took up their membership",
	"portal_role.bound":                "took up a portal-wide role granted to them",
	"visit.created":                    "created the visit",
	"letter.withdrawn":                 "withdrew a letter event recorded in error",
	"legal_hold.set":                   "set a legal hold",
	"legal_hold.lifted":                "lifted the legal hold",
	"legal_hold.store_applied":         "brought the object store to the legal hold, which the act that set or lifted it had not finished",
	"request.denied":                   "was refused",
	"request.item_added":               "added an item to the information request",
	"request.item_changed":             "changed an item of the information request",
	"request.item_removed":             "removed an item from the information request",
	"item.restriction_changed":         "changed who may see an item",
	"notifications.changed":            "changed their notifications",
	"destruction.notice":               "gave notice of the destruction",
	"destruction.approved":             "approved the destruction",
	"destruction.started":              "started the destruction",
	"destruction.key_destroyed":        "destroyed the visit’s key",
	"destruction.objects_deleted":      "deleted the stored files",
	"destruction.certificate_issued":   "issued the destruction certificate",
	"destruction.certificate_kept":     "kept the destruction certificate issued before the restore",
	"destruction.key_epoch_superseded": "moved every live key off the destroyed key’s epoch",
	"destruction.failed":               "could not finish the destruction",
	"visit.destroyed":                  "destroyed the visit",
	"signin":                           "signed in",
	"signout":                          "signed out",
	"session.expired":                  "was signed out after a time without activity",
	"user.disabled":                    "disabled a person: ended their sessions and refused their sign-in",
	"user.enabled":                     "let a disabled person sign in again",
	"audit.exported":                   "exported the audit trail",
	"evidence.verified":                "read back and checked every stored file of the visit",
}

// auditKind is a kind of act the trail can be filtered by: Code is the
// action, or a prefix ending in ".".
type auditKind struct{ Code, Label string }

var auditKinds = []auditKind{
	{"", "Every kind of act"},
	{"file.download", "Downloads of a file"},
	{"archive.download", "Downloads of a zip of files"},
	{"upload.", "Uploads"},
	{"file.deleted", "Files deleted"},
	{"file.refiled", "Files filed under another item"},
	{"member.", "Changes to members"},
	{"member.changed", "Changes of role"},
	{"letter.", "Letter events"},
	{"legal_hold.", "Legal holds"},
	{"request.denied", "Refusals"},
	{"item.restriction_changed", "Restrictions of items"},
	{"destruction.", "Destruction"},
	{"audit.exported", "Exports of the audit trail"},
}

// actionInWords is what the act was, in words; an unknown code is shown
// as it is.
func actionInWords(code string) string {
	if w, ok := actionWords[code]; ok {
		return w
	}
	if ev, ok := strings.CutPrefix(code, "letter."); ok {
		return "recorded: " + lowerFirst(eventLabel(ev))
	}
	return code
}

// detailLabels name the details the portal records.
var detailLabels = map[string]string{
	"date": "Date", "from": "From", "to": "To", "sha256": "SHA-256", "size": "Size", "item": "Item",
	"action": "Asked to", "policies": "Policies", "rule": "Rule", "route": "Address", "role": "Role",
	"destroy_on": "Destruction date", "error": "Error", "signature": "Malware found", "files": "Files", "files_whole": "Files sent whole", "sent": "Bytes sent",
	"event": "Letter event", "restricted": "Restricted", "actor": "Person", "kind": "Kind of act", "after": "After record", "limit": "At most", "roles": "Roles", "valid_from": "Access from", "valid_until": "Access until",
}

// detailText renders a record's details (JSON) as text: "Label: value"
// lines, in order of their keys. Text that is not an object is shown as
// it is.
func detailText(detail string) []string {
	var m map[string]any
	if detail == "" || detail == "{}" || json.Unmarshal([]byte(detail), &m) != nil {
		if detail == "{}" {
			return nil
		}
		return []string{detail}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if v, ok := m[k].(string); ok && v == "" || m[k] == nil {
			continue // nothing to say
		}
		if k == "role" {
			if r, ok := m[k].(string); ok {
				m[k] = roleName(r)
			}
		}
		label := detailLabels[k]
		if label == "" {
			label = strings.ToUpper(k[:1]) + strings.ReplaceAll(k[1:], "_", " ")
		}
		out = append(out, label+": "+valueText(m[k]))
	}
	return out
}

func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case string:
		return v
	case bool:
		return map[bool]string{true: "yes", false: "no"}[v]
	case float64:
		return fmt.Sprintf("%.0f", v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = valueText(e)
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditRow is one record as the page shows it.
type auditRow struct {
	Seq              int64
	Record           store.AuditRecord
	Who, Role, What  string
	Object           string // the file's name, or the id
	Named            bool   // Object is a name
	Outcome          string
	Details          []string
	Refused, NotDone bool
}

// auditRows puts the records in words, with the names of the files the
// viewer may see (names: by id).
func auditRows(recs []store.AuditRecord, names map[string]string) []auditRow {
	out := make([]auditRow, 0, len(recs))
	for _, r := range recs {
		row := auditRow{Seq: r.Seq, Record: r, Who: portal.PersonName(r.ActorEmail, "", r.ActorSubject, r.ActorIssuer), Role: r.Role,
			What: actionInWords(r.Action), Object: r.Object, Details: detailText(r.Detail)}
		if n, ok := names[r.Object]; ok {
			row.Object, row.Named = n, true
		}
		if r.Object == r.VisitID {
			row.Object = "" // the visit itself: the page is about it
		}
		if strings.HasPrefix(r.Action, "member.") {
			// The member's id means nothing to people: name the person as
			// the record's details do.
			var d struct{ Email, Subject, Issuer, Role string }
			if json.Unmarshal([]byte(r.Detail), &d) == nil && (d.Email != "" || d.Subject != "") {
				row.Object, row.Named = portal.PersonName(d.Email, "", d.Subject, d.Issuer), true
			}
		}
		switch r.Outcome {
		case "success", "":
			row.Outcome = "Done"
		case "denied":
			row.Outcome, row.Refused = "Refused", true
		case "failure", "failed", "error":
			row.Outcome, row.NotDone = "Failed", true
		default:
			row.Outcome = strings.ToUpper(r.Outcome[:1]) + strings.ReplaceAll(r.Outcome[1:], "_", " ")
		}
		out = append(out, row)
	}
	return out
}
