package portal

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// The acts that end someone's access (a member removed from a visit, the
// administrator role revoked, a person disabled, and a person enabled
// again, which decides whether a disable still holds; an item restricted
// to fewer roles, and opened again) are noted outside
// the database too (the anchor store, write-once), signed with the
// portal's key, as the trail recording them is anchored there: a database
// restored from a backup taken before them would otherwise let those
// people back in (an inspector taken off a visit for a conflict of
// interest, a departed administrator). A restore ends that access again
// (endAccessAgain); it never grants anything a note says.

// accessNoteType is the type of an access note outside the database.
const accessNoteType = "evidence-portal access ended v1"

// accessNotes is where access notes are kept outside the database, and
// the name of how far they are noted (store.NotedOutside).
const accessNotes = "access/"

// accessEnding are the records noted outside the database.
var accessEnding = []string{"member.removed", "portal_role.revoked", "user.disabled", "user.enabled", "item.restriction_changed"}

// accessNote is what stays outside the database of one of those records:
// the record (its number and hash in the trail, its time), and what a
// restore needs to apply it again. Member removals name the visit and the
// membership only; restrictions, the visit, the item and the roles that
// see it; the others, the person as the operator named them.
type accessNote struct {
	Type     string    `json:"type"`
	Seq      int64     `json:"seq"`
	Hash     string    `json:"hash"`
	Action   string    `json:"action"`
	At       time.Time `json:"at"`
	VisitID  string    `json:"visit_id,omitempty"`
	MemberID string    `json:"member_id,omitempty"`
	// Item is the item whose restriction changed: Restricted to Roles,
	// or opened to every role that may see the visit's files.
	Item       string   `json:"item,omitempty"`
	Restricted bool     `json:"restricted,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	Role       string   `json:"role,omitempty"`
	Issuer     string   `json:"issuer,omitempty"`
	Email      string   `json:"email,omitempty"`
	Subject    string   `json:"subject,omitempty"`
}

// accessNoteName is a note's name: by the record's number and hash, since
// a restore numbers the records after it again.
func accessNoteName(n accessNote) string {
	return fmt.Sprintf("%s%020d-%s.json", accessNotes, n.Seq, n.Hash)
}

// accessNoteOf is the note of a record, false for a record that ended no
// access (a refusal) or does not say whose.
func accessNoteOf(r store.AuditRecord) (accessNote, bool) {
	if r.Outcome != "success" {
		return accessNote{}, false
	}
	var d struct {
		Role, Issuer, Email, Subject string
		Restricted                   bool
		Roles                        []string
	}
	if json.Unmarshal([]byte(r.Detail), &d) != nil {
		return accessNote{}, false
	}
	n := accessNote{Type: accessNoteType, Seq: r.Seq, Hash: r.Hash, Action: r.Action, At: r.Time.UTC()}
	switch r.Action {
	case "member.removed":
		n.VisitID, n.MemberID = r.VisitID, r.Object
		return n, IsID(n.VisitID) && IsID(n.MemberID)
	case "item.restriction_changed":
		n.VisitID, n.Item, n.Restricted, n.Roles = r.VisitID, r.Object, d.Restricted, d.Roles
		return n, IsID(n.VisitID) && n.Item != ""
	case "portal_role.revoked":
		n.Role = d.Role
		if n.Role == "" {
			return accessNote{}, false
		}
	}
	n.Issuer, n.Email, n.Subject = d.Issuer, d.Email, d.Subject
	return n, n.Issuer != "" && (n.Email == "") != (n.Subject == "")
}

// signAccessNote is n, signed with key.
func signAccessNote(key ed25519.PrivateKey, n accessNote) []byte {
	body, _ := json.Marshal(n)
	return retention.SignBody(body, key)
}

// access reads a signed access note, verified with one of the trusted
// keys.
func (k trustedKeys) access(b []byte) (accessNote, error) {
	for _, key := range k {
		body, err := retention.OpenSigned(b, key)
		if err != nil {
			continue
		}
		var n accessNote
		if json.Unmarshal(body, &n) != nil || n.Type != accessNoteType || !slices.Contains(accessEnding, n.Action) {
			return accessNote{}, errors.New("signed, but not an access note")
		}
		return n, nil
	}
	return accessNote{}, retention.ErrBadSignature
}

// noteAccessEnded writes outside the database the note of every record
// that ended someone's access up to upto, the record the anchor store's
// last checkpoint covers, from where the last noting stopped: the notes
// go outside as the trail does. Each is written once (a second write of
// the same note is the same bytes, kept once).
func (s *Service) noteAccessEnded(ctx context.Context, upto int64) error {
	if upto <= s.accessNoted.Load() {
		return nil
	}
	from, err := s.store.NotedOutside(ctx, accessNotes)
	if err != nil {
		return err
	}
	const page = 200
	for from < upto {
		recs, err := s.store.AuditRecords(ctx, store.AuditFilter{Actions: accessEnding, AfterSeq: from, Limit: page})
		if err != nil {
			return err
		}
		reached := upto
		if len(recs) == page && recs[page-1].Seq < upto {
			reached = recs[page-1].Seq
		}
		for _, r := range recs {
			if r.Seq > reached {
				break
			}
			n, ok := accessNoteOf(r)
			if !ok {
				continue
			}
			if err := s.putOutside(ctx, accessNoteName(n), signAccessNote(s.signer, n)); err != nil {
				return err
			}
		}
		if err := s.store.NoteOutsideReached(ctx, accessNotes, reached); err != nil {
			return err
		}
		from = reached
	}
	s.accessNoted.Store(upto)
	return nil
}

// accessMargin is how long before the restored trail's last record an
// access note is applied again: records are timed by the clock of the
// instance that wrote them, which may be behind the one that wrote the
// last (maxClockSkew each way). Applying again one the database already
// holds changes nothing (a membership removed is gone, a disable is kept,
// a grant made after a revocation is left).
const accessMargin = time.Minute

// endAccessAgain ends again, after a restore, the access that notes
// outside the database say was ended after the restored trail's last
// record (at since): each membership removed is removed, each revoked
// role's grants made before the revocation go, and each person whose last
// note is a disable is disabled. It returns how many it ended again.
// Nothing a note says is granted: a person enabled, or a grant made,
// since the backup is lost with the database, as everything since it is.
// A note that does not verify with a trusted key, timed after since,
// stops the restore: it may be a revocation signed with a key replaced
// since.
func (s *Service) endAccessAgain(ctx context.Context, keys trustedKeys, since time.Time) (int, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return 0, err
	}
	objs, err := a.Records(ctx, accessNotes)
	if err != nil {
		return 0, fmt.Errorf("restore: access notes outside the database (%s): %w", a.Where(), err)
	}
	from := since.Add(-accessMargin)
	var notes []accessNote
	for name, versions := range objs {
		verified := false
		for _, b := range versions {
			if n, err := keys.access(b); err == nil {
				verified = true
				if !n.At.Before(from) {
					notes = append(notes, n)
				}
				break
			}
		}
		if !verified && unverifiedAfter(versions, from) {
			return 0, fmt.Errorf("%w: %s, an access note (if the signing key was replaced since, give the earlier public key with --trust-key)", errUnverified, name)
		}
		if !verified {
			s.log.Warn("restore: an object among the access notes outside the database is not one; passed over", "name", name)
		}
	}
	sort.Slice(notes, func(i, j int) bool {
		if !notes[i].At.Equal(notes[j].At) {
			return notes[i].At.Before(notes[j].At)
		}
		return notes[i].Seq < notes[j].Seq
	})
	ended := 0
	// A person's disable holds if it is the last of their notes: one
	// enabled again after it (before the backup's copy of them, or
	// since) is left as the database has them.
	lastOf := map[string]accessNote{}
	var people []string
	// Likewise an item's restriction holds if it is the last of the
	// item's notes.
	var items []string
	for _, n := range notes {
		switch n.Action {
		case "item.restriction_changed":
			k := "item\x00" + n.VisitID + "\x00" + n.Item
			if _, ok := lastOf[k]; !ok {
				items = append(items, k)
			}
			lastOf[k] = n
		case "member.removed":
			rec := s.systemRec(n.VisitID, "member.removed", n.MemberID, againDetail(n))
			err := s.store.RemoveMember(ctx, n.VisitID, n.MemberID, rec)
			if errors.Is(err, store.ErrNotFound) {
				continue // removed in the backup too
			}
			if err != nil {
				return ended, fmt.Errorf("restore: remove again member %s of visit %s: %w", n.MemberID, n.VisitID, err)
			}
			s.log.Warn("member removed again after a restore", "visit", n.VisitID, "member", n.MemberID)
			ended++
		case "portal_role.revoked":
			rec := s.systemRec("", "portal_role.revoked", "", againDetail(n))
			err := s.store.RevokePortalRoleAgain(ctx, n.Role, n.Issuer, n.Email, n.Subject, n.At, rec)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return ended, fmt.Errorf("restore: revoke again the %s role of %s: %w", n.Role, n.Issuer, err)
			}
			s.log.Warn("portal role revoked again after a restore", "role", n.Role, "issuer", n.Issuer)
			ended++
		default:
			k := n.Issuer + "\x00" + n.Email + "\x00" + n.Subject
			if _, ok := lastOf[k]; !ok {
				people = append(people, k)
			}
			lastOf[k] = n
		}
	}
	for _, k := range items {
		n := lastOf[k]
		if !n.Restricted {
			continue
		}
		again, err := s.restrictAgain(ctx, n)
		if err != nil {
			return ended, fmt.Errorf("restore: restrict again item %s of visit %s: %w", n.Item, n.VisitID, err)
		}
		if again {
			s.log.Warn("item restricted again after a restore", "visit", n.VisitID, "item", n.Item)
			ended++
		}
	}
	for _, k := range people {
		n := lastOf[k]
		if n.Action != "user.disabled" {
			continue
		}
		rec := s.systemRec("", "user.disabled", "", againDetail(n))
		newly, err := s.store.DisableUsersAgain(ctx, n.Issuer, n.Email, n.Subject, s.now(), sessionUser, rec)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return ended, fmt.Errorf("restore: disable again a person of %s: %w", n.Issuer, err)
		}
		if newly > 0 {
			s.log.Warn("person disabled again after a restore", "issuer", n.Issuer)
			ended++
		}
	}
	return ended, nil
}

// restrictAgain restricts again, after a restore, an item of a live visit
// to the roles n names, less any the restored database does not let see
// it: a restore never opens an item. It reports whether it changed the
// item's restriction.
func (s *Service) restrictAgain(ctx context.Context, n accessNote) (bool, error) {
	v, err := s.store.Visit(ctx, n.VisitID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if v.State != StateActive {
		return false, nil // destroyed, or being destroyed: nothing is served
	}
	cur, err := s.store.Restriction(ctx, n.VisitID, n.Item)
	if err != nil {
		return false, err
	}
	roles := slices.Compact(slices.Sorted(slices.Values(n.Roles)))
	if cur.Restricted {
		roles = slices.DeleteFunc(roles, func(r string) bool { return !slices.Contains(cur.Roles, r) })
		if len(roles) == len(cur.Roles) {
			return false, nil // as strict already
		}
	}
	if roles == nil {
		roles = []string{}
	}
	d := againDetail(n)
	d["restricted"], d["roles"] = true, roles
	rec := s.systemRec(n.VisitID, "item.restriction_changed", n.Item, d)
	return true, s.store.PutRestriction(ctx, store.Restriction{VisitID: n.VisitID, Code: n.Item, Restricted: true, Roles: roles}, s.now(), rec)
}

// againDetail is the detail of a record of access ended again: the
// person as the first record named them, and when that was.
func againDetail(n accessNote) map[string]any {
	d := map[string]any{"reapplied": "access ended outside the database", "recorded_at": n.At.Format(time.RFC3339Nano), "recorded_seq": n.Seq}
	if n.Role != "" {
		d["role"] = n.Role
	}
	if n.Issuer != "" {
		d["issuer"] = n.Issuer
		if n.Email != "" {
			d["email"] = n.Email
		} else {
			d["subject"] = n.Subject
		}
	}
	return d
}

// unverifiedAfter reports whether an object among the access notes that
// does not verify says (unchecked) it is an access note recorded at from
// or after. One that says it is older than the backup is not the
// restore's concern, nor one that is no access note at all (written there
// by someone else, in a store where it cannot be deleted: it must not
// stop every restore).
func unverifiedAfter(versions [][]byte, from time.Time) bool {
	for _, b := range versions {
		var env retention.Signed
		var n accessNote
		if json.Unmarshal(b, &env) == nil && json.Unmarshal(env.Certificate, &n) == nil && n.Type == accessNoteType && !n.At.Before(from) {
			return true
		}
	}
	return false
}
