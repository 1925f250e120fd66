package portal

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// HoldsKey reports whether the service keeps the visit's key in memory.
func (s *Service) HoldsKey(visitID string) bool {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	_, ok := s.keys.keys[visitID]
	return ok
}

// ForgetGoneKeys runs the per-instance round that forgets keys destroyed
// elsewhere.
func (s *Service) ForgetGoneKeys(ctx context.Context) { s.forgetGone(ctx) }

// CheckKeyNow makes the next readiness check the master key against the
// key bucket again, as it does once a minute.
func (s *Service) CheckKeyNow() {
	s.health.mu.Lock()
	s.health.keyAt = time.Time{}
	s.health.mu.Unlock()
}

// SelfTestNow makes the next readiness run the object store self-test
// again, as it does every 10 minutes.
func (s *Service) SelfTestNow() {
	s.health.mu.Lock()
	s.health.selfAt = time.Time{}
	s.health.mu.Unlock()
}

// MessageIDOf is the Message-ID (before the @) a notification's mail is
// sent under.
func MessageIDOf(n store.Notification) string { return messageID(n) }

// SetLeases shortens the janitor's and the key epochs' leases, so that a
// test can outlast them.
func (s *Service) SetLeases(d time.Duration) { s.janitorLease, s.epochLease = d, d }

// SetRestoreWait shortens how long finishing a restore waits for another
// process finishing it.
func (s *Service) SetRestoreWait(d time.Duration) { s.restoreWait = d }

// SweepExpiredUploads runs the janitor's expiry round over rs, the uploads
// it listed as past their expiry (a listing a request may since have
// outdated).
func (s *Service) SweepExpiredUploads(ctx context.Context, rs []store.Resumable) error {
	return s.evidence.AbandonExpired(ctx, rs, s.expiredUploadRecord)
}

// RefuseDecided records and answers a refusal decided for the actor of
// acc, as Authorize does once the policy has said no.
func (acc *Access) RefuseDecided(ctx context.Context, action policy.Action, d policy.Decision) error {
	return acc.refuse(ctx, action, "", d)
}

// NoteDestructionOutside writes, outside the database, the signed note a
// destruction of v writes before its key goes: as if v were destroyed by
// the portal after the backup this database came from.
func (s *Service) NoteDestructionOutside(ctx context.Context, v store.Visit) error {
	body, err := json.Marshal(retention.Tombstone{Type: retention.TombstoneType, VisitID: v.ID, Reference: v.Reference, Bucket: v.Bucket, StartedAt: s.now().UTC()})
	if err != nil {
		return err
	}
	return s.putOutside(ctx, retention.TombstoneName(v.ID), retention.SignBody(body, s.signer))
}

// NotePurgeOutside writes, outside the database, the signed note a purge
// of file f writes: as if f were purged by the portal after the backup
// this database came from.
func (s *Service) NotePurgeOutside(ctx context.Context, f store.File) error {
	return s.putOutside(ctx, purgeNoteName(f.VisitID, f.ID), signPurgeNote(s.signer, store.PurgedFile{VisitID: f.VisitID, FileID: f.ID, Item: f.Item,
		Size: f.Size, SHA256: f.SHA256, UploadedBy: f.UploadedBy, UploadedAt: f.UploadedAt, PurgedBy: "admin", PurgedAt: s.now()}))
}

// SetRoundAhead sets how many files ahead a zip's round of decisions
// takes, until the returned func puts it back.
func SetRoundAhead(n int) func() {
	was := roundAhead
	roundAhead = n
	return func() { roundAhead = was }
}

// NameIndexOf is the index of the file name name in the visit acc is on
// (what a named upload reserves).
func (acc *Access) NameIndexOf(ctx context.Context, name string) ([]byte, error) {
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	return key.NameIndex(NameKey(name)), nil
}

// FakeClamd listens on loopback as a scanner does, and has serve answer
// each connection (closed after it); it returns the address.
func FakeClamd(t *testing.T, serve func(conn net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				serve(conn)
			}()
		}
	}()
	return l.Addr().String()
}

// ReadInstream copies the chunks of an INSTREAM command from r to w, to
// its zero-length end.
func ReadInstream(r *bufio.Reader, w io.Writer) error {
	for {
		var n uint32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return err
		}
	}
}

// EndAccessAgain ends again the access the notes outside the database
// say was ended after the trail's record restored, at since, as a restore
// does.
func (s *Service) EndAccessAgain(ctx context.Context, restored int64, since time.Time) (int, error) {
	c, err := s.endAccessAgain(ctx, s.trustedKeys(nil), "", restored, since)
	return c.Ended + c.Held + c.Withdrawn + c.Recorded, err
}

// PutAccessNoteOutside writes b among the access notes outside the
// database, under name.
func (s *Service) PutAccessNoteOutside(ctx context.Context, name string, b []byte) error {
	return s.putOutside(ctx, accessNotes+name, b)
}

// ForgedMemberRemoval is the note of a member's removal at at, signed
// with a key the portal does not trust.
func ForgedMemberRemoval(visitID, memberID string, at time.Time) []byte {
	_, key, _ := ed25519.GenerateKey(nil)
	return signNote(key, accessNote{Type: accessNoteType, Seq: 1, Hash: "00", Action: "member.removed", At: at.UTC(), VisitID: visitID, MemberID: memberID})
}

// ErrUnverified is a record outside the database that does not verify.
var ErrUnverified = errUnverified

// accessNotesOutside is every version of each access note outside the
// database, by name.
func (s *Service) accessNotesOutside(ctx context.Context) (map[string][][]byte, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return nil, err
	}
	return a.Records(ctx, accessNotes)
}

// AccessNotesOutside names the access notes outside the database.
func (s *Service) AccessNotesOutside(ctx context.Context) ([]string, error) {
	objs, err := s.accessNotesOutside(ctx)
	var names []string
	for name := range objs {
		names = append(names, name)
	}
	return names, err
}

// AccessNotePeople is, for each access note outside the database of an
// act action, the people it names.
func (s *Service) AccessNotePeople(ctx context.Context, action string) ([][]store.Identity, error) {
	objs, err := s.accessNotesOutside(ctx)
	if err != nil {
		return nil, err
	}
	var out [][]store.Identity
	for _, versions := range objs {
		for _, b := range versions {
			if n, err := s.trustedKeys(nil).access(b); err == nil && n.Action == action {
				out = append(out, n.People)
			}
		}
	}
	return out, nil
}

// ForgedDisable is the note of a disable at at of the person who signs in
// from issuer as subject, signed with a key the portal does not trust.
func ForgedDisable(issuer, subject string, at time.Time) []byte {
	_, key, _ := ed25519.GenerateKey(nil)
	return signNote(key, accessNote{Type: accessNoteType, Seq: 2, Hash: "01", Action: "user.disabled", At: at.UTC(), Issuer: issuer, Subject: subject,
		People: []store.Identity{{Subject: subject}}})
}

// ForgedHold is the note of a legal hold set on a visit at at, signed with
// a key the portal does not trust.
func ForgedHold(visitID string, at time.Time) []byte {
	_, key, _ := ed25519.GenerateKey(nil)
	return signNote(key, accessNote{Type: accessNoteType, Seq: 4, Hash: "03", Action: "legal_hold.set", At: at.UTC(), VisitID: visitID})
}

// ForgedWithdrawal is the note of a letter event withdrawn from a visit
// at at, signed with a key the portal does not trust.
func ForgedWithdrawal(visitID, event, date string, at time.Time) []byte {
	_, key, _ := ed25519.GenerateKey(nil)
	return signNote(key, accessNote{Type: accessNoteType, Seq: 5, Hash: "04", Action: "letter.withdrawn", At: at.UTC(), VisitID: visitID, Event: event, Date: date})
}

// ForgedRecord is the note of a letter event recorded on a visit at at,
// signed with a key the portal does not trust.
func ForgedRecord(visitID, event, date string, at time.Time) []byte {
	return ForgedRecordAt(6, visitID, event, date, at)
}

// ForgedRecordAt is ForgedRecord of record seq.
func ForgedRecordAt(seq int64, visitID, event, date string, at time.Time) []byte {
	_, key, _ := ed25519.GenerateKey(nil)
	return signNote(key, accessNote{Type: accessNoteType, Seq: seq, Hash: "05", Action: "letter." + event, At: at.UTC(), VisitID: visitID, Event: event, Date: date})
}

// WithdrawAgainAsRestore withdraws again the letter event whose
// withdrawal r recorded, as a restore applies its note.
func (s *Service) WithdrawAgainAsRestore(ctx context.Context, r store.AuditRecord) error {
	n, ok := accessNoteOf(r)
	if !ok {
		return fmt.Errorf("no access note of record %d", r.Seq)
	}
	again, err := s.withdrawAgain(ctx, n)
	if err == nil && !again {
		err = fmt.Errorf("record %d: nothing withdrawn again", r.Seq)
	}
	return err
}

// PutWithdrawalNote writes outside the database, signed with the portal's
// key, the note of record seq (hash hash): the letter event (event, date)
// of visit visitID withdrawn, now.
func (s *Service) PutWithdrawalNote(ctx context.Context, seq int64, hash, visitID, event, date string) error {
	n := accessNote{Type: accessNoteType, Seq: seq, Hash: hash, Action: "letter.withdrawn", At: s.now().UTC(), VisitID: visitID, Event: event, Date: date}
	return s.putOutside(ctx, accessNoteName(n), signNote(s.signer, n))
}

// ForgedDisableOf is ForgedDisable of a person who signed in as p, named
// by their email.
func ForgedDisableOf(issuer string, p store.Identity, at time.Time) []byte {
	_, key, _ := ed25519.GenerateKey(nil)
	return signNote(key, accessNote{Type: accessNoteType, Seq: 3, Hash: "02", Action: "user.disabled", At: at.UTC(), Issuer: issuer, Email: p.Email,
		People: []store.Identity{p}})
}

// PutLostAccessNote writes outside the database, signed with the portal's
// key, the note of record seq (hash hash) of a timeline the database lost:
// action (user.disabled, user.enabled) of the person who signed in as p.
func (s *Service) PutLostAccessNote(ctx context.Context, seq int64, hash, action, issuer string, p store.Identity) error {
	n := accessNote{Type: accessNoteType, Seq: seq, Hash: hash, Action: action, At: s.now().UTC(), Issuer: issuer, Email: p.Email,
		People: []store.Identity{p}}
	return s.putOutside(ctx, accessNoteName(n), signNote(s.signer, n))
}

// NoteRestoreFinished writes restore id's finished note, as a restore
// that restored record restored and marked its trail at mark does.
func (s *Service) NoteRestoreFinished(ctx context.Context, id string, restored, mark int64) error {
	return s.noteRestoreFinished(ctx, id, restored, mark)
}

// PutForgedRestoreFinished writes outside the database the finished note
// of a restore that says it lost the records after restored before mark,
// signed with a key the portal does not trust.
func (s *Service) PutForgedRestoreFinished(ctx context.Context, id string, restored, mark int64) error {
	_, key, _ := ed25519.GenerateKey(nil)
	return s.putOutside(ctx, restoresFinishedOutside+id+".json", signNote(key, restoreFinished{Type: restoreFinishedType, RestoreID: id,
		RestoredSeq: restored, MarkSeq: mark, FinishedAt: s.now().UTC()}))
}

// ForgetNamesIndexed makes the service index the visit's names again
// before its next name is taken (as a new process does).
func (s *Service) ForgetNamesIndexed(visitID string) { s.namesIndexed.Delete(visitID) }

// NameIndexOfKey is the index of the name key k (NameKey's form) in the
// visit acc is on.
func (acc *Access) NameIndexOfKey(ctx context.Context, k string) ([]byte, error) {
	key, err := acc.key(ctx)
	if err != nil {
		return nil, err
	}
	return key.NameIndex(k), nil
}

// PutAnchorRecord writes body under name in the anchor store, as anyone
// who can write there could.
func (s *Service) PutAnchorRecord(ctx context.Context, name string, body []byte) error {
	a, err := s.openAnchors(ctx)
	if err != nil {
		return err
	}
	return a.PutRecord(ctx, name, body)
}

// PurgesHereError is the error of reading the purge notes outside the
// database against it, as serve's check does (CheckRestored).
func (s *Service) PurgesHereError(ctx context.Context) error {
	_, err := s.purgesHere(ctx, s.trustedKeys(nil), nil)
	return err
}
