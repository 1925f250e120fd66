package portal

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// The acts that end someone's access (a member removed from a visit, or
// their role or time window on it changed, the administrator role
// revoked, a person disabled, and a person enabled again, which decides
// whether a disable still holds; an item restricted to fewer roles, and
// opened again), and the legal holds set and lifted on visits and the
// letter events withdrawn (a publication recorded with the wrong date),
// are noted outside
// the database too (the anchor store, write-once), signed with the
// portal's key, as the trail recording them is anchored there: a database
// restored from a backup taken before them would otherwise let those
// people back in (an inspector taken off a visit for a conflict of
// interest, a departed administrator), and let a visit held since for
// litigation, or whose wrong publication date was withdrawn, be destroyed
// on schedule (or months early). A restore ends that access again, holds
// those visits again and withdraws those events again (endAccessAgain);
// it never grants anything a note says, nor frees anything for
// destruction.

// accessNoteType is the type of an access note outside the database.
const accessNoteType = "evidence-portal access ended v1"

// accessNotes is where access notes are kept outside the database.
const accessNotes = "access/"

// accessNoted names how far the trail is noted outside the database
// (store.NotedOutside) for the acts in accessEnding. A version that notes
// more acts names it anew, so that its noting starts from the trail's
// first record: the point of the version before ("access/", which noted
// no membership changed, hold or letter event) is left to that version's
// replicas while they still serve beside this one, which would otherwise
// move it on past what this one never noted.
const accessNoted = "access/v2"

// accessEnding are the records noted outside the database.
var accessEnding = []string{"member.removed", "member.changed", "portal_role.revoked", "user.disabled", "user.enabled", "item.restriction_changed",
	"legal_hold.set", "legal_hold.lifted", "letter.withdrawn",
	"letter." + retention.DraftSent, "letter." + retention.FinalSent, "letter." + retention.ComplaintReceived,
	"letter." + retention.ComplaintResolved, "letter." + retention.Published}

// accessNote is what stays outside the database of one of those records:
// the record (its number and hash in the trail, its time), and what a
// restore needs to apply it again. Member removals name the visit and the
// membership only; member changes, the membership and its role and
// window as they were left; legal holds, the visit; a letter event
// withdrawn, the visit, the event and its date; restrictions, the visit, the item and the roles that
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
	// People are the identities the person an operator named signed in
	// with, when the record was noted.
	People []store.Identity `json:"people,omitempty"`
	// Event and Date are a withdrawn letter event and its date
	// (YYYY-MM-DD).
	Event string `json:"event,omitempty"`
	Date  string `json:"date,omitempty"`
	// ValidFrom and ValidUntil are a changed membership's window as an
	// administrator left it (zero: the role's default).
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
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
	n := accessNote{Type: accessNoteType, Seq: r.Seq, Hash: r.Hash, Action: r.Action, At: r.Time.UTC()}
	if r.Action == "legal_hold.set" || r.Action == "legal_hold.lifted" {
		n.VisitID = r.VisitID
		return n, IsID(n.VisitID)
	}
	var d struct {
		Role, Issuer, Email, Subject string
		Restricted                   bool
		Roles                        []string
		Event, Date                  string
		// A change of membership names its window (a date, a time, or
		// empty: the role's default) as the request gave it.
		ValidFrom  *string `json:"valid_from"`
		ValidUntil *string `json:"valid_until"`
	}
	if json.Unmarshal([]byte(r.Detail), &d) != nil {
		return accessNote{}, false
	}
	if letterRecorded(r.Action) {
		// A letter event recorded: a restore records it again, in
		// order with the withdrawals (a publication corrected, or
		// recorded, after the backup), by who recorded it: one
		// administrator does not approve the destruction their
		// publication set going (Status.ownDestruction).
		// One a restore recorded again names, in its detail, who
		// recorded it first (againDetail).
		n.VisitID, n.Event, n.Date = r.VisitID, strings.TrimPrefix(r.Action, "letter."), d.Date
		n.Issuer, n.Subject = r.ActorIssuer, r.ActorSubject
		if r.Role == "system" {
			n.Issuer, n.Subject = d.Issuer, d.Subject
		}
		_, err := calendar.ParseDate(n.Date)
		return n, IsID(n.VisitID) && err == nil
	}
	switch r.Action {
	case "member.removed":
		n.VisitID, n.MemberID = r.VisitID, r.Object
		return n, IsID(n.VisitID) && IsID(n.MemberID)
	case "item.restriction_changed":
		n.VisitID, n.Item, n.Restricted, n.Roles = r.VisitID, r.Object, d.Restricted, d.Roles
		return n, IsID(n.VisitID) && n.Item != ""
	case "letter.withdrawn":
		n.VisitID, n.Event, n.Date = r.VisitID, d.Event, d.Date
		_, err := calendar.ParseDate(n.Date)
		return n, IsID(n.VisitID) && retention.IsEvent(n.Event) && err == nil
	case "member.changed":
		// A change that names no window (an invitation given its
		// issuer) changed neither role nor window.
		if d.ValidFrom == nil || d.ValidUntil == nil || !policy.IsRole(d.Role) {
			return accessNote{}, false
		}
		from, err := parseWhen(*d.ValidFrom)
		if err != nil {
			return accessNote{}, false
		}
		until, err := parseUntil(*d.ValidUntil)
		if err != nil {
			return accessNote{}, false
		}
		n.VisitID, n.MemberID, n.Role, n.ValidFrom, n.ValidUntil = r.VisitID, r.Object, d.Role, from.UTC(), until.UTC()
		return n, IsID(n.VisitID) && IsID(n.MemberID)
	case "portal_role.revoked":
		n.Role = d.Role
		if n.Role == "" {
			return accessNote{}, false
		}
	}
	n.Issuer, n.Email, n.Subject = d.Issuer, d.Email, d.Subject
	return n, n.Issuer != "" && (n.Email == "") != (n.Subject == "")
}

// access reads a signed access note, verified with one of the trusted
// keys.
func (k trustedKeys) access(b []byte) (accessNote, error) {
	n, verified, ok := openNote[accessNote](k, b)
	if !verified {
		return accessNote{}, retention.ErrBadSignature
	}
	if !ok || !n.valid() {
		return accessNote{}, errors.New("signed, but not an access note")
	}
	return n, nil
}

// valid reports whether n reads as an access note.
func (n accessNote) valid() bool {
	return n.Type == accessNoteType && slices.Contains(accessEnding, n.Action)
}

// noteAccessEnded writes outside the database the note of every record
// that ended someone's access up to upto, the record the checkpoint about
// to be anchored covers, from where the last noting stopped: the notes go
// outside before the anchor, so that the trail outside the database never
// goes on without them. Each is written once (a second write of the same
// note is kept once; one whose people were read at another moment is a
// second version, and a restore reads every version).
func (s *Service) noteAccessEnded(ctx context.Context, upto int64) error {
	if upto <= s.accessNoted.Load() {
		return nil
	}
	from, err := s.store.NotedOutside(ctx, accessNoted)
	if err != nil {
		return err
	}
	if from > upto {
		// Another instance has noted further (its checkpoint is later
		// than the one this one anchors), or the point is beyond the
		// trail, which no instance writes: written by someone who can
		// write to the database, to stop the noting. Then it is noted
		// again from the start; every note already out is the same note.
		head, _, err := s.store.AuditHead(ctx)
		if err != nil {
			return err
		}
		if from <= head {
			s.accessNoted.Store(upto)
			return nil
		}
		s.log.Error("how far access ended is noted outside the database is beyond the trail's last record: noting again from the start; check the trail with portal audit verify",
			"noted", from, "head", head)
		if err := s.store.NoteOutsideFromStart(ctx, accessNoted, from); err != nil {
			return err
		}
		from = 0
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
			if n.Issuer != "" && !letterRecorded(n.Action) {
				// The person as they sign in, however the operator named
				// them: a restored database may know them another way, or
				// not at all (signed in first after the backup). (A
				// letter event names who recorded it, and no more.)
				if n.People, err = s.store.IdentitiesNamed(ctx, n.Issuer, n.Email, n.Subject); err != nil {
					return err
				}
			}
			if err := s.putOutside(ctx, accessNoteName(n), signNote(s.signer, n)); err != nil {
				return err
			}
		}
		if err := s.store.NoteOutsideReached(ctx, accessNoted, reached); err != nil {
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
// last (maxClockSkew each way). A note of a record the restored trail
// holds is passed over: the database holds its act.
const accessMargin = time.Minute

// letterRecorded reports whether action records a letter event.
func letterRecorded(action string) bool {
	ev, ok := strings.CutPrefix(action, "letter.")
	return ok && retention.IsEvent(ev)
}

// againCounts are what a restore applied again from the notes outside the
// database: access ended, visits held, letter events withdrawn and
// recorded, and those it could not record again (NotRecorded: the visit's
// history, as restored, does not allow them).
type againCounts struct {
	Ended, Held, Withdrawn, Recorded, NotRecorded int
}

// endAccessAgain ends again, after a restore, the access that notes
// outside the database say was ended after the restored trail's last
// record (restored, at since): each membership removed is removed, each
// one whose window was narrowed is narrowed again (one whose role was
// changed is removed: neither the role taken nor the role given is a
// restore's to give), each revoked role's grants made before the revocation go, each person whose
// last note is a disable is disabled, and each item whose last note
// restricts it is restricted; and each live visit whose last hold note
// sets its legal hold is held again, and each letter event withdrawn is
// withdrawn again when it is the visit's last. It returns how many of
// each it applied again. Nothing
// a note says is granted: a person enabled, or a grant made, since the
// backup is lost with the database, as everything since it is. A note
// that does not verify with a trusted key stops the restore when it would
// change this database (it may be a revocation signed with a key
// replaced since); any other is passed over, logged.
func (s *Service) endAccessAgain(ctx context.Context, keys trustedKeys, current string, restored int64, since time.Time) (got againCounts, err error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return got, err
	}
	objs, err := a.Records(ctx, accessNotes)
	if err != nil {
		return got, fmt.Errorf("restore: access notes outside the database (%s): %w", a.Where(), err)
	}
	from, until := since.Add(-accessMargin), s.now().Add(accessMargin)
	type candidate struct {
		accessNote
		name     string
		verified bool
	}
	var cands []candidate
	for name, versions := range objs {
		verified := false
		for _, b := range versions {
			if n, err := keys.access(b); err == nil {
				verified = true
				cands = append(cands, candidate{n, name, true})
			}
		}
		if verified {
			continue
		}
		for _, b := range versions {
			n, _, ok := openNote[accessNote](nil, b)
			if !ok || !n.valid() || n.At.After(until) {
				// Not the portal's: none is dated ahead of the clocks.
				s.log.Warn("restore: an object among the access notes outside the database is not one; passed over", "name", name)
				continue
			}
			cands = append(cands, candidate{n, name, false})
		}
	}
	// Passed over: the notes of acts from before the backup; those of
	// acts an earlier restore lost (the records after its backup's last,
	// before its mark, and the notes it names of a timeline lost past its
	// mark, whose numbers its own timeline took again), since that restore applied again the access they
	// ended, noted anew as it did, and what they granted was never
	// granted after it (read as they are, an enable that restore lost
	// would open again a person who stayed disabled); and those of
	// records the restored trail holds, whose acts the database holds.
	lost, err := s.restoresFinished(ctx, keys, current)
	if err != nil {
		return got, err
	}
	held := map[int64]string{}
	var notes []accessNote
	var unverifiedRecords []candidate
	for _, c := range cands {
		n := c.accessNote
		// (Letter events withdrawn and recorded are kept, in order:
		// passed over on the word of a note no trusted key vouches
		// for, the records alone would leave a visit unpublished.)
		opens := n.Action == "user.enabled" || n.Action == "item.restriction_changed" && !n.Restricted || n.Action == "legal_hold.lifted"
		if n.At.Before(from) || slices.ContainsFunc(lost, func(l restoreFinished) bool {
			return (n.Seq > l.RestoredSeq && n.Seq < l.MarkSeq || slices.Contains(l.Beyond, c.name)) && (opens || !l.unverified)
		}) {
			continue
		}
		if n.Seq <= restored {
			h, ok := held[n.Seq]
			if !ok {
				recs, err := s.store.AuditRecords(ctx, store.AuditFilter{AfterSeq: n.Seq - 1, Limit: 1})
				if err != nil {
					return got, err
				}
				if len(recs) == 1 && recs[0].Seq == n.Seq {
					h = recs[0].Hash
				}
				held[n.Seq] = h
			}
			if h == n.Hash {
				continue
			}
		}
		if c.verified {
			notes = append(notes, n)
			continue
		}
		if letterRecorded(n.Action) {
			// Decided once the verified notes are known: a withdrawal
			// among them may make it act.
			unverifiedRecords = append(unverifiedRecords, c)
			continue
		}
		here, err := s.accessHere(ctx, n)
		if err != nil {
			return got, err
		}
		if here {
			return got, unverifiedHere(c.name)
		}
		s.log.Warn("restore: an access note outside the database does not verify, for nothing this database holds; passed over", "name", c.name)
	}
	// A letter event recorded, in a note that does not verify, acts
	// when the live visit's last event is another, or when a verified
	// note applied before it may make it so: a withdrawal of that
	// event, or a record of another.
	for _, c := range unverifiedRecords {
		n := c.accessNote
		here, err := s.accessHere(ctx, n)
		if err != nil {
			return got, err
		}
		if !here {
			live, err := s.liveVisit(ctx, n.VisitID)
			if err != nil {
				return got, err
			}
			here = live && slices.ContainsFunc(notes, func(w accessNote) bool {
				before := w.Seq < n.Seq || w.Seq == n.Seq && w.At.Before(n.At)
				same := w.Event == n.Event && w.Date == n.Date
				return w.VisitID == n.VisitID && before && (w.Action == "letter.withdrawn" && same || letterRecorded(w.Action))
			})
		}
		if here {
			return got, unverifiedHere(c.name)
		}
		s.log.Warn("restore: an access note outside the database does not verify, for nothing this database holds; passed over", "name", c.name)
	}
	// In the order of their records: a restore's mark goes after the
	// last record anchored, and notes are of the records a checkpoint
	// covers, so their numbers go on across restores (but for notes of a
	// checkpoint whose anchor failed, were the database lost before the
	// next). Clocks are not compared.
	sort.SliceStable(notes, func(i, j int) bool {
		if notes[i].Seq != notes[j].Seq {
			return notes[i].Seq < notes[j].Seq
		}
		return notes[i].At.Before(notes[j].At)
	})
	// A person's disable holds if it is the last of their notes: one
	// enabled again after it (before the backup's copy of them, or
	// since) is left as the database has them. Likewise an item's
	// restriction.
	lastOf := map[string]accessNote{}
	// When each visit's hold, as its notes go, was set: a hold set again
	// (a new reason) keeps its time, as in the database.
	heldFrom := map[string]time.Time{}
	identities := map[string]map[string]bool{}
	identityOf := map[string]store.Identity{}
	var keysInOrder []string
	last := func(k string, n accessNote) {
		if _, ok := lastOf[k]; !ok {
			keysInOrder = append(keysInOrder, k)
		}
		lastOf[k] = n
	}
	// Letter events are withdrawn and recorded again in order, as they
	// were: a withdrawal undone since (its event recorded again after
	// it, with the same date or another) is undone again. Those this
	// restore applied before it stopped (portal restore --resume runs it
	// again) are not applied twice.
	// What this restore did to each visit's letter events, as "-event
	// date" and "+event date", a record cancelling the withdrawal of the
	// same event before it, and the other way round: before it stopped
	// (its records), then in this run.
	applied, letters, err := s.letterNotesApplied(ctx, restored)
	if err != nil {
		return got, err
	}
	for _, n := range notes {
		if (letterRecorded(n.Action) || n.Action == "letter.withdrawn") && applied[appliedKey(n.Seq, n.At)] {
			continue
		}
		if letterRecorded(n.Action) {
			ops := letters[n.VisitID]
			putBack := len(ops) > 0 && ops[len(ops)-1] == "-"+n.Event+" "+n.Date
			again, err := s.recordAgain(ctx, n, putBack)
			if again {
				letters[n.VisitID] = applyLetterOp(ops, "+"+n.Event+" "+n.Date)
			}
			var refused *notRecordable
			switch {
			case errors.As(err, &refused):
				s.log.Error("restore: a letter event recorded after the backup cannot be recorded again: record it by hand once the visit allows it", "visit", n.VisitID, "event", n.Event, "date", n.Date, "err", err)
				got.NotRecorded++
			case err != nil:
				return got, fmt.Errorf("restore: record again the %s event of visit %s: %w", n.Event, n.VisitID, err)
			case again:
				s.log.Warn("letter event recorded again after a restore", "visit", n.VisitID, "event", n.Event, "date", n.Date)
				got.Recorded++
			}
			continue
		}
		switch n.Action {
		case "member.removed":
			rec := s.systemRec(n.VisitID, "member.removed", n.MemberID, againDetail(n))
			err := s.store.RemoveMember(ctx, n.VisitID, n.MemberID, rec)
			if errors.Is(err, store.ErrNotFound) {
				continue // removed in the backup too
			}
			if err != nil {
				return got, fmt.Errorf("restore: remove again member %s of visit %s: %w", n.MemberID, n.VisitID, err)
			}
			s.log.Warn("member removed again after a restore", "visit", n.VisitID, "member", n.MemberID)
			got.Ended++
		case "portal_role.revoked":
			again, err := s.revokeAgain(ctx, n)
			if err != nil {
				return got, fmt.Errorf("restore: revoke again the %s role of a person of %s: %w", n.Role, n.Issuer, err)
			}
			if again {
				s.log.Warn("portal role revoked again after a restore", "role", n.Role, "issuer", n.Issuer)
				got.Ended++
			}
		case "item.restriction_changed":
			last("item\x00"+n.VisitID+"\x00"+n.Item, n)
		case "member.changed":
			last("member\x00"+n.VisitID+"\x00"+n.MemberID, n)
		case "letter.withdrawn":
			again, err := s.withdrawAgain(ctx, n)
			if err != nil {
				return got, fmt.Errorf("restore: withdraw again the %s event of visit %s: %w", n.Event, n.VisitID, err)
			}
			if again {
				letters[n.VisitID] = applyLetterOp(letters[n.VisitID], "-"+n.Event+" "+n.Date)
				s.log.Warn("letter event withdrawn again after a restore", "visit", n.VisitID, "event", n.Event, "date", n.Date)
				got.Withdrawn++
			}
		case "legal_hold.set", "legal_hold.lifted":
			last("hold\x00"+n.VisitID, n)
			if _, ok := heldFrom[n.VisitID]; !ok && n.Action == "legal_hold.set" {
				heldFrom[n.VisitID] = n.At
			} else if n.Action == "legal_hold.lifted" {
				delete(heldFrom, n.VisitID)
			}
		default:
			// By every identity the person signs in with, and every one
			// an earlier note naming them so had (their provider may
			// since have changed the email it gives), and as the
			// operator named them.
			named := "named\x00" + n.Issuer + "\x00" + n.Email + "\x00" + n.Subject
			if identities[named] == nil {
				identities[named] = map[string]bool{}
			}
			for _, p := range n.People {
				k := "person\x00" + n.Issuer + "\x00" + p.Subject
				identities[named][k], identityOf[k] = true, p
			}
			last(named, n)
			for _, k := range slices.Sorted(maps.Keys(identities[named])) {
				last(k, n)
			}
		}
	}
	for _, k := range keysInOrder {
		n := lastOf[k]
		var again bool
		var err error
		switch {
		case n.Action == "item.restriction_changed" && n.Restricted:
			if again, err = s.restrictAgain(ctx, n); again {
				s.log.Warn("item restricted again after a restore", "visit", n.VisitID, "item", n.Item)
			}
		case n.Action == "member.changed":
			if again, err = s.narrowAgain(ctx, n); again {
				s.log.Warn("membership narrowed again after a restore", "visit", n.VisitID, "member", n.MemberID)
			}
		case n.Action == "legal_hold.set":
			if again, err = s.holdAgain(ctx, n, heldFrom[n.VisitID]); again {
				s.log.Warn("legal hold set again after a restore", "visit", n.VisitID)
				got.Held++
				continue
			}
		case n.Action == "user.disabled":
			p, person := identityOf[k]
			named := !person && len(identities[k]) == 0 // known by no identity
			if again, err = s.disableAgain(ctx, n, p, person, named); again {
				s.log.Warn("person disabled again after a restore", "issuer", n.Issuer)
			}
		}
		if err != nil {
			return got, fmt.Errorf("restore: %s again: %w", n.Action, err)
		}
		if again {
			got.Ended++
		}
	}
	return got, nil
}

// revokeAgain revokes again, after a restore, the role n says was
// revoked: the grants made before the revocation to the person as the
// operator named them, and to each identity they signed in with (a grant
// to their email that the restored database holds untaken would be taken
// up at their next sign-in).
func (s *Service) revokeAgain(ctx context.Context, n accessNote) (bool, error) {
	revoked := false
	for _, w := range n.namedAs() {
		rec := s.systemRec("", "portal_role.revoked", "", againDetail(n))
		err := s.store.RevokePortalRoleAgain(ctx, n.Role, n.Issuer, w.email, w.subject, n.At, rec)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return revoked, err
		}
		revoked = true
	}
	return revoked, nil
}

// named is a person as an operator names them: by email, or by subject.
type named struct{ email, subject string }

// namedAs is every way the person n names is known: as the operator
// named them, and by the subject and the email of each identity they
// signed in with.
func (n accessNote) namedAs() []named {
	all := []named{{n.Email, n.Subject}}
	for _, p := range n.People {
		all = append(all, named{subject: p.Subject})
		if p.Email != "" && store.PlainEmail(p.Email) {
			all = append(all, named{email: strings.ToLower(p.Email)})
		}
	}
	return all
}

// disableAgain disables again, after a restore, the person n says was
// disabled: by an identity they signed in with (person; kept as disabled
// when the restored database does not know it), or, for a person no note
// knows by an identity (named), as the operator named them.
func (s *Service) disableAgain(ctx context.Context, n accessNote, p store.Identity, person, named bool) (bool, error) {
	rec := s.systemRec("", "user.disabled", "", againDetail(n))
	switch {
	case person:
		return s.store.DisableIdentityAgain(ctx, n.Issuer, p, s.now(), sessionUser, rec)
	case named:
		newly, err := s.store.DisableUsersAgain(ctx, n.Issuer, n.Email, n.Subject, s.now(), sessionUser, rec)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // never signed in: nothing to refuse
		}
		return newly > 0, err
	}
	return false, nil
}

// accessHere reports whether applying n again could act on what this
// database holds: the membership it removes or narrows, the item of a
// live visit it restricts, a live visit not held whose hold it sets, a
// live visit with the letter event it withdraws (any of its events: the
// withdrawals before it may make it the last), a person it disables (or a
// membership or grant waiting for them, which they would take up at their
// next sign-in) or a grant it revokes, by how the operator named them or
// an identity they signed in with, or a live visit whose last letter
// event is not the one it records (recorded again, it would publish the
// visit, or undo a withdrawal before it). An enable, an item opened or a
// hold lifted never acts.
func (s *Service) accessHere(ctx context.Context, n accessNote) (bool, error) {
	if letterRecorded(n.Action) {
		if live, err := s.liveVisit(ctx, n.VisitID); !live {
			return false, err
		}
		evs, err := s.store.Events(ctx, n.VisitID)
		if err != nil {
			return false, err
		}
		k := len(evs)
		return k == 0 || evs[k-1].Event != n.Event || evs[k-1].Date.Format(time.DateOnly) != n.Date, nil
	}
	switch n.Action {
	case "member.removed", "member.changed":
		_, err := s.store.Member(ctx, n.VisitID, n.MemberID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	case "item.restriction_changed":
		if !n.Restricted {
			return false, nil
		}
		return s.liveVisit(ctx, n.VisitID)
	case "user.enabled", "legal_hold.lifted":
		return false, nil
	case "letter.withdrawn":
		if live, err := s.liveVisit(ctx, n.VisitID); !live {
			return false, err
		}
		// Any of its events, not only its last: withdrawals applied
		// before this one may make it the last.
		evs, err := s.store.Events(ctx, n.VisitID)
		return slices.ContainsFunc(evs, func(e store.Event) bool {
			return e.Event == n.Event && e.Date.Format(time.DateOnly) == n.Date
		}), err
	case "legal_hold.set":
		h, err := s.store.GetLegalHold(ctx, n.VisitID)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil || h.On {
			return false, err
		}
		return s.liveVisit(ctx, n.VisitID)
	}
	for _, w := range n.namedAs() {
		var here bool
		var err error
		if n.Action == "portal_role.revoked" {
			here, err = s.store.PortalRoleNamed(ctx, n.Role, n.Issuer, w.email, w.subject)
		} else {
			// The person, or what they would take up at their next
			// sign-in (a membership or a grant by their email): a
			// person the database does not know, disabled again, is
			// kept as disabled so that they take up neither.
			var people []store.Identity
			people, err = s.store.IdentitiesNamed(ctx, n.Issuer, w.email, w.subject)
			here = len(people) > 0
			if err == nil && !here {
				here, err = s.store.WaitingFor(ctx, n.Issuer, w.email, w.subject)
			}
		}
		if err != nil || here {
			return here, err
		}
	}
	return false, nil
}

// restrictAgain restricts again, after a restore, an item of a live visit
// to the roles n names, less any the restored database does not let see
// it: a restore never opens an item. It reports whether it changed the
// item's restriction.
func (s *Service) restrictAgain(ctx context.Context, n accessNote) (bool, error) {
	if live, err := s.liveVisit(ctx, n.VisitID); !live {
		return false, err
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

// withdrawAgain withdraws again, after a restore, the letter event n says
// an administrator withdrew after the backup (recorded in error: a
// publication on the wrong visit or with the wrong date, which sets the
// destruction date), when it is the live visit's last event, as the
// withdrawal required. Left, the visit would be destroyed by the wrong
// date. Every date that followed from it moves back, as at the
// withdrawal. It reports whether it withdrew it.
func (s *Service) withdrawAgain(ctx context.Context, n accessNote) (bool, error) {
	d, err := calendar.ParseDate(n.Date)
	if err != nil {
		return false, nil // accessNoteOf reads no such note
	}
	detail := againDetail(n)
	detail["reapplied"], detail["event"], detail["date"] = "letter event withdrawn outside the database", n.Event, n.Date
	rec := s.systemRec(n.VisitID, "letter.withdrawn", "", detail)
	_, _, err = s.store.WithdrawLastEvent(ctx, n.VisitID, store.Event{Event: n.Event, Date: d}, s.now(), rec)
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDestructionBegun), errors.Is(err, store.ErrNotFound):
		return false, nil // not the last event in the backup, or destroyed there
	case err != nil:
		return false, err
	}
	return true, nil
}

// unverifiedHere is the error that stops a restore at the access note
// named name, which does not verify and would act on what the restored
// database holds.
func unverifiedHere(name string) error {
	return fmt.Errorf("%w: %s, an access note for what this database holds (if the signing key was replaced since, give the earlier public key with --trust-key)", errUnverified, name)
}

// applyLetterOp adds op ("+event date" recorded, "-event date" withdrawn)
// to what a restore did to a visit's letter events, ops: an op that undoes
// the last one cancels it.
func applyLetterOp(ops []string, op string) []string {
	inverse := map[byte]string{'+': "-", '-': "+"}[op[0]] + op[1:]
	if n := len(ops); n > 0 && ops[n-1] == inverse {
		return ops[:n-1]
	}
	return append(ops, op)
}

// appliedKey names a note among the letter events a restore applied
// again: by its record's number and time (againDetail), since two
// timelines may number records alike.
func appliedKey(seq int64, at time.Time) string {
	return fmt.Sprintf("%d\x00%s", seq, at.UTC().Format(time.RFC3339Nano))
}

// letterNotesApplied names the notes of letter events (appliedKey) whose
// withdrawal or record the trail after record after holds applied
// again, by this restore before it stopped, and the notes of its own
// records of them, noted since; and what those did to each visit's
// letter events (applyLetterOp), in the order of the trail.
func (s *Service) letterNotesApplied(ctx context.Context, after int64) (map[string]bool, map[string][]string, error) {
	recs, err := s.store.AuditRecords(ctx, store.AuditFilter{AfterSeq: after, Action: "letter."})
	if err != nil {
		return nil, nil, fmt.Errorf("restore: letter events applied again: %w", err)
	}
	applied, ops := map[string]bool{}, map[string][]string{}
	for _, r := range recs {
		var d struct {
			Reapplied   string `json:"reapplied"`
			Seq         int64  `json:"recorded_seq"`
			At          string `json:"recorded_at"`
			Event, Date string
		}
		if r.Role != "system" || json.Unmarshal([]byte(r.Detail), &d) != nil || d.Reapplied == "" {
			continue
		}
		if at, err := time.Parse(time.RFC3339Nano, d.At); err == nil {
			applied[appliedKey(d.Seq, at)] = true
		}
		applied[appliedKey(r.Seq, r.Time)] = true
		op := "-" + d.Event + " " + d.Date
		if r.Action != "letter.withdrawn" {
			op = "+" + strings.TrimPrefix(r.Action, "letter.") + " " + d.Date
		}
		ops[r.VisitID] = applyLetterOp(ops[r.VisitID], op)
	}
	return applied, ops, nil
}

// notRecordable is a letter event recorded after a backup that its
// restore cannot record again: the visit's events, as restored and with
// the notes before it applied, do not allow it (retention.Check).
type notRecordable struct{ err error }

func (e *notRecordable) Error() string {
	return "the visit's letter events do not allow it: " + e.err.Error()
}
func (e *notRecordable) Unwrap() error { return e.err }

// recordAgain records again, after a restore, the letter event n says was
// recorded after the backup, unless it is the live visit's last event
// already (recorded in the backup too, or noted twice), in order with the
// withdrawals before it: a publication corrected after the backup
// (withdrawn with the wrong date, recorded with the right one), or
// recorded after it, would otherwise be lost, the visit left unpublished,
// the access its publication ended open again and its destruction never
// due. It is checked as it was when recorded (eventCheck); one the
// visit's events no longer allow is refused (notRecordable), and the
// operator told, unless putBack: it puts back the event this restore
// withdrew last (the backup's, as checked when it was recorded, which a
// calendar changed since may refuse). It reports whether it recorded it.
func (s *Service) recordAgain(ctx context.Context, n accessNote, putBack bool) (bool, error) {
	d, err := calendar.ParseDate(n.Date)
	if err != nil {
		return false, nil // accessNoteOf reads no such note
	}
	v, err := s.store.Visit(ctx, n.VisitID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // created after the backup
	}
	if err != nil || v.State != StateActive {
		return false, err // its destruction begun, or done, in the backup
	}
	evs, err := s.store.Events(ctx, n.VisitID)
	if err != nil {
		return false, err
	}
	if k := len(evs); k > 0 && evs[k-1].Event == n.Event && evs[k-1].Date.Equal(d) {
		return false, nil
	}
	st, err := s.status(ctx, v)
	if err != nil {
		return false, err
	}
	// Recorded by who recorded it, when the restored database knows
	// them; otherwise by no one an administrator is (restoredRecorder).
	by := restoredRecorder
	if n.Issuer != "" && n.Subject != "" {
		switch id, err := s.store.UserIDOf(ctx, n.Issuer, n.Subject); {
		case err == nil:
			by = id
		case !errors.Is(err, store.ErrNotFound):
			return false, err
		}
	}
	var refused error
	check := s.eventCheck(v, st, n.Event, d)
	detail := againDetail(n)
	detail["reapplied"], detail["date"] = "letter event recorded outside the database", n.Date
	rec := s.systemRec(n.VisitID, "letter."+n.Event, "", detail)
	_, err = s.store.AddEvent(ctx, store.Event{VisitID: n.VisitID, Event: n.Event, Date: d, RecordedBy: by, RecordedAt: s.now()}, func(evs []store.Event) error {
		if refused = check(evs); refused != nil && putBack {
			s.log.Warn("restore: a letter event withdrawn and recorded again after the backup is put back, though the calendar no longer allows it", "visit", n.VisitID, "event", n.Event, "date", n.Date, "err", refused)
			refused = nil
		}
		return refused
	}, rec)
	switch {
	case refused != nil:
		return false, &notRecordable{refused}
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// holdAgain sets again, after a restore, the legal hold n says an
// administrator set on a live visit after the backup (its last hold note
// sets it): without it, the visit would be destroyed on schedule, its
// key first, while held for litigation. Its reason, sealed in the
// database, is lost with it: the hold is set without one, as when the
// visit key does not open, from since, when it was first set. The object
// store is brought to it by the retention run, as after any act on a
// hold. It reports whether it set the hold.
func (s *Service) holdAgain(ctx context.Context, n accessNote, since time.Time) (bool, error) {
	h, err := s.store.GetLegalHold(ctx, n.VisitID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || h.On {
		return false, err // held in the backup too
	}
	d := againDetail(n)
	d["reapplied"], d["reason_kept"] = "legal hold set outside the database", false
	_, err = s.store.SetLegalHold(ctx, n.VisitID, store.LegalHold{On: true, At: since}, s.systemRec(n.VisitID, "legal_hold.set", "", d))
	if errors.Is(err, store.ErrDestructionBegun) || errors.Is(err, store.ErrNotFound) {
		return false, nil // destroyed, or being destroyed, in the backup
	}
	return err == nil, err
}

// liveVisit reports whether the visit is in the database and live: one
// destroyed, or being destroyed, serves nothing, and a note of it is not
// applied again.
func (s *Service) liveVisit(ctx context.Context, id string) (bool, error) {
	v, err := s.store.Visit(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && v.State == StateActive, err
}

// narrowAgain narrows again, after a restore, the membership of a live
// visit that n says an administrator last left as it says: its window to
// the part of it the restored one shares (a restore never widens one). A
// membership whose role n says was changed is removed: the role the
// restored database gives may be the one taken from the person, and the
// one n names is not the restore's to grant; an administrator adds them
// again. So is one left with no time at all. It reports whether it
// changed the membership.
func (s *Service) narrowAgain(ctx context.Context, n accessNote) (bool, error) {
	v, err := s.store.Visit(ctx, n.VisitID)
	if errors.Is(err, store.ErrNotFound) || err == nil && v.State != StateActive {
		return false, nil // destroyed, or being destroyed: nothing is served
	}
	if err != nil {
		return false, err
	}
	cur, err := s.store.Member(ctx, n.VisitID, n.MemberID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil // removed in the backup, or by a note
	}
	if err != nil {
		return false, err
	}
	d := againDetail(n)
	d["email"], d["issuer"], d["subject"], d["role"] = cmp.Or(cur.Email, cur.UserEmail), cur.Issuer, cur.Subject, cur.Role
	def := defaultFrom(v, cur.Role)
	from, until := narrowWindow(cur.ValidFrom, cur.ValidUntil, n.ValidFrom, n.ValidUntil, def)
	remove := ""
	switch {
	case cur.Role != n.Role:
		remove, d["changed_to"] = "its role was changed after the backup", n.Role
	case !until.IsZero() && !until.After(orDefault(from, def)):
		remove = "its window as changed after the backup shares no time with the backup's"
	}
	if remove != "" {
		d["why"] = remove
		err := s.store.RemoveMember(ctx, n.VisitID, n.MemberID, s.systemRec(n.VisitID, "member.removed", n.MemberID, d))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	if from.Equal(cur.ValidFrom) && until.Equal(cur.ValidUntil) {
		return false, nil // as narrow already
	}
	d["valid_from"], d["valid_until"] = whenText(from), whenText(until)
	err = s.store.NarrowMember(ctx, n.VisitID, n.MemberID, cur.Role, from, until, s.now(), s.systemRec(n.VisitID, "member.changed", n.MemberID, d))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// narrowWindow is the part of a membership's window that both (curFrom,
// curUntil) and (noteFrom, noteUntil) give, as a membership stores it: a
// zero start is def (the role's default), a zero end the role's (which
// caps any end given). Each bound is kept as whichever of the two gave
// it, so a default stays one.
func narrowWindow(curFrom, curUntil, noteFrom, noteUntil, def time.Time) (from, until time.Time) {
	from, until = curFrom, curUntil
	if orDefault(noteFrom, def).After(orDefault(curFrom, def)) {
		from = noteFrom
	}
	if !noteUntil.IsZero() && (curUntil.IsZero() || noteUntil.Before(curUntil)) {
		until = noteUntil
	}
	return from, until
}

// orDefault is t, or def when t is zero.
func orDefault(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// whenText is a window's bound as a change of membership records it: an
// RFC 3339 time, or empty for the role's default.
func whenText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
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
