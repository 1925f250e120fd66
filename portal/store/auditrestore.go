package store

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A restored trail: the database came back from a backup that held records
// 1..N, while checkpoints up to record M (M > N) had been anchored outside
// the database. Records N+1..M are lost, and their anchors cannot be
// rewritten, so the trail goes on at M+1 with an audit.restored record
// linked to the anchored hash of M. That record carries a statement signed
// with the signing key (which someone who can only write to the database
// does not hold): the gap it names is the restore's, and verification
// reports it as such, neither intact nor tampered. Any other gap is still a
// break.

// ActionRestored is the action of a restore's mark in the trail.
const ActionRestored = "audit.restored"

// RestoreStatement is what a restore's mark states and signs.
type RestoreStatement struct {
	RestoredSeq     int64     `json:"restored_seq"` // N: the last record the backup held
	RestoredHash    string    `json:"restored_hash"`
	AnchoredSeq     int64     `json:"anchored_seq"` // max(N, M): the mark follows this record
	AnchoredHash    string    `json:"anchored_hash"`
	BackupCreatedAt time.Time `json:"backup_created_at"`
	Signature       string    `json:"signature"` // base64 Ed25519 over message()
}

func (r RestoreStatement) message() []byte {
	return fmt.Appendf(nil, "restore:1:%d:%s:%d:%s:%s", r.RestoredSeq, r.RestoredHash, r.AnchoredSeq, r.AnchoredHash, r.BackupCreatedAt.UTC().Format(time.RFC3339Nano))
}

// SignRestore signs a restore statement.
func SignRestore(r RestoreStatement, key ed25519.PrivateKey) RestoreStatement {
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, r.message()))
	return r
}

// Gap is a restore found in the trail: records Restored+1..Anchored are
// lost (none when they are equal), and the anchor at Anchored has
// AnchoredHash.
type Gap struct {
	Restored, Anchored int64
	RestoredHash       string
	AnchoredHash       string
	Mark               int64 // the audit.restored record
	At                 time.Time
	// BackupCreatedAt is when the backup restored was taken, as signed;
	// zero for a database the operator restored by other means and took
	// in (no backup's manifest vouched for it).
	BackupCreatedAt time.Time
}

// RestoreMarks returns the restores recorded in the trail, each checked:
// its statement signed by trusted and the mark linked to the record it
// names. A mark that does not verify is a *ChainError.
func RestoreMarks(records []AuditRecord, trusted ...ed25519.PublicKey) ([]Gap, error) {
	var out []Gap
	for _, r := range records {
		if r.Action != ActionRestored {
			continue
		}
		var st RestoreStatement
		if err := json.Unmarshal([]byte(r.Detail), &st); err != nil {
			return out, &ChainError{r.Seq, "a restore mark without its statement"}
		}
		sig, err := base64.StdEncoding.DecodeString(st.Signature)
		if err != nil || !signedBy(trusted, st.message(), sig) {
			return out, &ChainError{r.Seq, "a restore mark whose statement does not verify with the trusted key"}
		}
		if st.AnchoredSeq+1 != r.Seq || st.AnchoredHash != r.PrevHash || st.AnchoredSeq < st.RestoredSeq ||
			st.AnchoredSeq == st.RestoredSeq && st.AnchoredHash != st.RestoredHash {
			return out, &ChainError{r.Seq, "a restore mark that does not follow the record its statement names"}
		}
		out = append(out, Gap{Restored: st.RestoredSeq, Anchored: st.AnchoredSeq, RestoredHash: st.RestoredHash, AnchoredHash: st.AnchoredHash, Mark: r.Seq, At: r.Time,
			BackupCreatedAt: st.BackupCreatedAt})
	}
	return out, nil
}

// resumes reports whether r is a restore's mark that resumes the trail
// after record prevSeq, whose hash is prevHash.
func resumes(gaps []Gap, r AuditRecord, prevSeq int64, prevHash string) bool {
	for _, g := range gaps {
		if g.Mark == r.Seq && g.Restored == prevSeq && g.RestoredHash == prevHash {
			return true
		}
	}
	return false
}

// lostIn returns the restore that lost record seq, if one did.
func lostIn(gaps []Gap, seq int64) (Gap, bool) {
	for _, g := range gaps {
		if seq > g.Restored && seq <= g.Anchored {
			return g, true
		}
	}
	return Gap{}, false
}

// A restore's intent: what the operator's portal restore writes to the
// anchor store, signed, before it changes anything, so that a restore
// found pending in the database (a row anyone who can write to the
// database could add) is marked only when it is one the operator began.
// It names the restore and the trail it brings back, and the last anchor
// at the time: once the restore's mark is anchored, that anchor is no
// longer the last, so the intent cannot be used again.

// RestoreIntent is what a restore's intent states and signs.
type RestoreIntent struct {
	RestoreID       string    `json:"restore_id"`
	BackupCreatedAt time.Time `json:"backup_created_at"` // zero for a database restored by other means
	RestoredSeq     int64     `json:"restored_seq"`      // the last record the restored trail holds
	RestoredHash    string    `json:"restored_hash"`
	AnchoredSeq     int64     `json:"anchored_seq"` // the last anchor outside the database when written; 0 when none
	AnchoredHash    string    `json:"anchored_hash"`
	WrittenAt       time.Time `json:"written_at"`
	// UnsignedBackup: the backup's manifest was not signed, and the
	// operator restored it even so (portal restore --accept-unsigned).
	UnsignedBackup bool   `json:"unsigned_backup,omitempty"`
	Signature      string `json:"signature"` // base64 Ed25519 over message()
}

func (r RestoreIntent) message() []byte {
	b := fmt.Appendf(nil, "restore-intent:1:%s:%s:%d:%s:%d:%s:%s", r.RestoreID, r.BackupCreatedAt.UTC().Format(time.RFC3339Nano),
		r.RestoredSeq, r.RestoredHash, r.AnchoredSeq, r.AnchoredHash, r.WrittenAt.UTC().Format(time.RFC3339Nano))
	if r.UnsignedBackup {
		b = append(b, ":unsigned-backup"...)
	}
	return b
}

// SignRestoreIntent signs a restore's intent.
func SignRestoreIntent(r RestoreIntent, key ed25519.PrivateKey) RestoreIntent {
	r.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, r.message()))
	return r
}

// ParseRestoreIntent reads a restore's intent and checks its signature
// with trusted.
func ParseRestoreIntent(b []byte, trusted ed25519.PublicKey) (RestoreIntent, error) {
	var r RestoreIntent
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("store: restore intent: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || !ed25519.Verify(trusted, r.message(), sig) {
		return r, errors.New("store: restore intent: the signature does not verify with the trusted key")
	}
	return r, nil
}
