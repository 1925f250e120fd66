package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AuditRecord is one entry of the tamper-evident audit trail. Records are
// chained: Hash = SHA-256(PrevHash ‖ canonical record) in the canonical form
// of the record's Format (see canonicalV1). Object is an id (a file id),
// never a name.
type AuditRecord struct {
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	ActorIssuer  string    `json:"actor_issuer"`
	ActorSubject string    `json:"actor_subject"`
	ActorEmail   string    `json:"actor_email"`
	Role         string    `json:"role"`
	VisitID      string    `json:"visit_id"`
	Action       string    `json:"action"`
	Object       string    `json:"object"`
	Outcome      string    `json:"outcome"`
	Detail       string    `json:"detail"` // JSON object: policies, byte range, reason...
	ClientIP     string    `json:"client_ip"`
	UserAgent    string    `json:"user_agent"`
	RequestID    string    `json:"request_id"`
	PrevHash     string    `json:"prev_hash"`
	Hash         string    `json:"hash"`
	// Format is the canonical form the record is chained with (1). A new
	// form adds a version; records keep the one they were written with.
	Format int `json:"format"`
	// timeRewritten says the record was read with its time stored in a
	// form the portal does not write (scanAuditRecord).
	timeRewritten bool
}

// AuditFormat is the canonical form new records are written with.
const AuditFormat = 1

// auditV1 is canonical form 1: these fields, in this order, as JSON, with
// Hash empty and Time in UTC. It is a type of its own so that a field added
// to AuditRecord does not change the hash of a single record already
// written; testdata/audit-v1.json pins it.
type auditV1 struct {
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	ActorIssuer  string    `json:"actor_issuer"`
	ActorSubject string    `json:"actor_subject"`
	ActorEmail   string    `json:"actor_email"`
	Role         string    `json:"role"`
	VisitID      string    `json:"visit_id"`
	Action       string    `json:"action"`
	Object       string    `json:"object"`
	Outcome      string    `json:"outcome"`
	Detail       string    `json:"detail"`
	ClientIP     string    `json:"client_ip"`
	UserAgent    string    `json:"user_agent"`
	RequestID    string    `json:"request_id"`
	PrevHash     string    `json:"prev_hash"`
	Hash         string    `json:"hash"`
}

// GenesisHash is the PrevHash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ChainHash computes a record's hash from its fields and PrevHash, in the
// record's canonical form; "" for a form this build does not know (which
// verification reports as broken rather than guess).
func ChainHash(r AuditRecord) string {
	var canon []byte
	switch r.Format {
	case 0, 1: // 0: read before the format was stored
		canon, _ = json.Marshal(auditV1{r.Seq, r.Time.UTC(), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID, r.Action,
			r.Object, r.Outcome, r.Detail, r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, ""})
	default:
		return ""
	}
	prev, _ := hex.DecodeString(r.PrevHash)
	h := sha256.New()
	h.Write(prev)
	h.Write(canon)
	return hex.EncodeToString(h.Sum(nil))
}

// appendAudit adds records to the chain inside tx. The head read here
// cannot move before the transaction ends: SQLite serialises write
// transactions (BEGIN IMMEDIATE), and on PostgreSQL the append holds an
// advisory lock to the end of the transaction (lockAudit). The sequence
// number is the primary key besides, so a fork could never be stored.
func appendAudit(ctx context.Context, tx *Tx, recs []AuditRecord) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	if err := lockAudit(ctx, tx); err != nil {
		return 0, fmt.Errorf("store: audit lock: %w", err)
	}
	var seq int64
	prev := GenesisHash
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("store: audit head: %w", err)
	}
	for _, r := range recs {
		seq++
		r.Seq, r.PrevHash, r.Format = seq, prev, AuditFormat
		r.Time = r.Time.UTC().Truncate(time.Microsecond)
		if r.Detail == "" {
			r.Detail = "{}"
		}
		r.Hash = ChainHash(r)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, time, actor_issuer, actor_subject, actor_email, role, visit_id, action, object, outcome, detail, client_ip, user_agent, request_id, prev_hash, hash, format)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Seq, r.Time.Format(timeFormat), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID, r.Action, r.Object, r.Outcome, r.Detail,
			r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, r.Hash, r.Format); err != nil {
			return 0, fmt.Errorf("store: append audit: %w", err)
		}
		prev = r.Hash
	}
	return seq, nil
}

// Audit appends records in a transaction of their own, for acts that are
// not database writes (a download, a refused request). An error means the
// act must not go ahead.
func (s *Store) Audit(ctx context.Context, recs ...AuditRecord) error {
	return s.inTx(ctx, func(*Tx) error { return nil }, recs...)
}

// AuditFilter selects records.
type AuditFilter struct {
	VisitID    string
	ActorEmail string
	Action     string // exact, or a prefix ending in "."
	From, To   time.Time
	AfterSeq   int64 // records with seq > AfterSeq (all when 0)
	Limit      int
	Issuer     string // with Subject: one person's records
	Subject    string
	Actions    []string // any of these
	Object     string   // exact
	Objects    []string // any of these
	// Newest takes the last Limit records that match rather than the
	// first (still returned in sequence order).
	Newest bool
}

// AuditRecords returns records matching f in sequence order.
func (s *Store) AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) { where = append(where, cond); args = append(args, a...) }
	if f.VisitID != "" {
		add("visit_id = ?", f.VisitID)
	}
	if f.ActorEmail != "" {
		add("LOWER(actor_email) = ?", strings.ToLower(f.ActorEmail))
	}
	if f.Issuer != "" {
		add("actor_issuer = ? AND actor_subject = ?", f.Issuer, f.Subject)
	}
	if strings.HasSuffix(f.Action, ".") {
		add("action LIKE ?", strings.ReplaceAll(f.Action, "%", "")+"%")
	} else if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Object != "" {
		add("object = ?", f.Object)
	}
	if len(f.Actions) > 0 {
		add("action IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.Actions)), ",")+")", anySlice(f.Actions)...)
	}
	if len(f.Objects) > 0 {
		add("object IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.Objects)), ",")+")", anySlice(f.Objects)...)
	}
	if !f.From.IsZero() {
		add("time >= ?", formatTime(f.From))
	}
	if !f.To.IsZero() {
		add("time < ?", formatTime(f.To))
	}
	if f.AfterSeq > 0 {
		add("seq > ?", f.AfterSeq)
	}
	q := `SELECT seq, time, actor_issuer, actor_subject, actor_email, role, visit_id, action, object, outcome, detail, client_ip, user_agent, request_id, prev_hash, hash, format FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq"
	if f.Newest {
		q += " DESC"
	}
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	out, err := queryAll(ctx, s.db, scanAuditRecord, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: audit records: %w", err)
	}
	if f.Newest {
		slices.Reverse(out)
	}
	return out, nil
}

func scanAuditRecord(sc scanner) (AuditRecord, error) {
	var r AuditRecord
	var at string
	if err := sc.Scan(&r.Seq, &at, &r.ActorIssuer, &r.ActorSubject, &r.ActorEmail, &r.Role, &r.VisitID, &r.Action, &r.Object, &r.Outcome,
		&r.Detail, &r.ClientIP, &r.UserAgent, &r.RequestID, &r.PrevHash, &r.Hash, &r.Format); err != nil {
		return r, err
	}
	var d dates
	r.Time = d.time(at)
	// The hash covers the instant, not the text: the text must be the
	// form the portal writes (RFC 3339 in UTC before timeFormat was
	// fixed-width), or one edited to another form of the same instant
	// would sort, and be filtered by date, elsewhere unseen.
	r.timeRewritten = d.err == nil && at != formatTime(r.Time) && at != r.Time.UTC().Format(time.RFC3339Nano)
	return r, d.err
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Checkpoint is a signed statement of the chain head at Seq.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	SignedAt  time.Time `json:"signed_at"`
	PublicKey string    `json:"public_key"` // base64 Ed25519
	Signature string    `json:"signature"`  // base64, over the message of its Format
	// Format is what is signed: 1, "seq:hash" (decimal seq, hex hash).
	Format int `json:"format"`
}

// CheckpointFormat is what new checkpoints sign.
const CheckpointFormat = 1

// checkpointMessage is what a checkpoint of its format signs; nil for a
// format this build does not know.
func checkpointMessage(c Checkpoint) []byte {
	switch c.Format {
	case 0, 1:
		return []byte(fmt.Sprintf("%d:%s", c.Seq, c.Hash))
	}
	return nil
}

// SignedBy reports whether one of keys signed the checkpoint.
func (c Checkpoint) SignedBy(keys ...ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	msg := checkpointMessage(c)
	return err == nil && msg != nil && signedBy(keys, msg, sig)
}

// AddCheckpoint stores a checkpoint.
func (s *Store) AddCheckpoint(ctx context.Context, c Checkpoint) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, signed_at, public_key, signature, format) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING`,
		c.Seq, c.Hash, formatTime(c.SignedAt), c.PublicKey, c.Signature, c.Format)
	return err
}

// Checkpoints lists checkpoints in order.
func (s *Store) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	return queryAll(ctx, s.db, scanCheckpoint, `SELECT seq, hash, signed_at, public_key, signature, format FROM audit_checkpoints ORDER BY seq`)
}

func scanCheckpoint(sc scanner) (Checkpoint, error) {
	var c Checkpoint
	var at string
	if err := sc.Scan(&c.Seq, &c.Hash, &at, &c.PublicKey, &c.Signature, &c.Format); err != nil {
		return c, err
	}
	var d dates
	c.SignedAt = d.time(at)
	return c, d.err
}

// AuditHead returns the last record's seq and hash (0, GenesisHash when empty).
func (s *Store) AuditHead(ctx context.Context) (int64, string, error) {
	var seq int64
	h := GenesisHash
	err := s.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, GenesisHash, nil
	}
	return seq, h, err
}

// SignCheckpoint signs the chain head.
func SignCheckpoint(seq int64, hash string, now time.Time, key ed25519.PrivateKey) Checkpoint {
	c := Checkpoint{Seq: seq, Hash: hash, SignedAt: now, PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), Format: CheckpointFormat}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, checkpointMessage(c)))
	return c
}

// ChainError says where the chain first breaks.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at record %d: %s", e.Seq, e.Reason)
}

// VerifyAudit walks the whole chain and every checkpoint. It returns the
// number of records checked, or a *ChainError at the first broken link: an
// edited, deleted, inserted or reordered record, or a checkpoint that does
// not match the chain or is not signed by one of trusted (every signing
// key the trail has used: one replaced leaves its checkpoints behind).
//
// The one gap allowed is a restore's, vouched for by its signed mark
// (auditrestore.go).
func VerifyAudit(records []AuditRecord, checkpoints []Checkpoint, trusted ...ed25519.PublicKey) error {
	gaps, err := RestoreMarks(records, trusted...)
	if err != nil {
		return err
	}
	w := newChainWalk(gaps, checkpoints)
	for _, r := range records {
		w.add(r)
	}
	if w.broken != nil {
		return w.broken
	}
	return w.checkpoints(checkpoints, trusted)
}

// LastCheckpoint returns the latest checkpoint, or ErrNotFound.
func (s *Store) LastCheckpoint(ctx context.Context) (Checkpoint, error) {
	cps, err := queryAll(ctx, s.db, scanCheckpoint, `SELECT seq, hash, signed_at, public_key, signature, format FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("store: last checkpoint: %w", err)
	}
	if len(cps) == 0 {
		return Checkpoint{}, ErrNotFound
	}
	return cps[0], nil
}

// VerifyAnchors checks the trail against checkpoints kept outside the
// database (write-once anchors): every anchored record must still be there
// with its hash, and each anchor's signature must verify. A trail
// shortened, truncated or emptied after an anchor was written is broken,
// and the error names the last anchored record.
func VerifyAnchors(records []AuditRecord, anchors []Checkpoint, trusted ...ed25519.PublicKey) error {
	if len(anchors) == 0 {
		return nil
	}
	gaps, err := RestoreMarks(records, trusted...)
	if err != nil {
		return err
	}
	w := newChainWalk(gaps, anchors)
	for _, r := range records {
		w.add(r)
	}
	return w.anchors(anchors, trusted)
}
