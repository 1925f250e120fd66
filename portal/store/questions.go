package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Question is a thread on an item (FileID "") or on a file (Item ""). Side
// is who asked: SideProvider or SideInspectorate. AnsweredAt is zero while
// it is open.
type Question struct {
	ID         string
	VisitID    string
	Item       string
	FileID     string
	Side       string
	AskedBy    string
	AskedAt    time.Time
	AnsweredBy string
	AnsweredAt time.Time
}

// Post is one question or answer in a thread; its text is sealed under the
// visit key.
type Post struct {
	ID         string
	QuestionID string
	VisitID    string
	Side       string
	PostedBy   string
	PostedAt   time.Time
	TextSealed []byte
}

// The two sides of a visit.
const (
	SideProvider     = "provider"
	SideInspectorate = "inspectorate"
)

const questionColumns = `id, visit_id, item, file_id, side, asked_by, asked_at, answered_by, answered_at`

func scanQuestion(sc scanner) (Question, error) {
	var q Question
	var at string
	var by, answered sql.NullString
	if err := sc.Scan(&q.ID, &q.VisitID, &q.Item, &q.FileID, &q.Side, &q.AskedBy, &at, &by, &answered); err != nil {
		return q, err
	}
	q.AnsweredBy = by.String
	var d dates
	q.AskedAt, q.AnsweredAt = d.time(at), d.null(answered)
	return q, d.err
}

// AddQuestion starts a thread with its first post, with its audit records.
func (s *Store) AddQuestion(ctx context.Context, q Question, first Post, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := lockVisit(ctx, tx, q.VisitID); err != nil {
			return err
		}
		// On a file: one deleted or purged since the question was
		// decided (which holds the visit's row as this does) takes no
		// thread; nobody could read it again.
		if q.FileID != "" {
			var ok bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE visit_id = ? AND id = ?)`, q.VisitID, q.FileID).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return ErrNotFound
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO questions (`+questionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
			q.ID, q.VisitID, q.Item, q.FileID, q.Side, q.AskedBy, formatTime(q.AskedAt)); err != nil {
			return err
		}
		return insertPost(ctx, tx, first)
	}, audit...)
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: add question: %w", err)
	}
	return nil
}

// AddPost adds an answer (or a further question) to a thread. A post
// from the side that asked opens the thread again if it is answered as
// the post is written (read in its transaction, so an answer marked
// meanwhile is opened again too); rec makes its audit record, told
// whether it did.
func (s *Store) AddPost(ctx context.Context, p Post, rec func(reopened bool) AuditRecord) error {
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		// The visit first, as a file's deletion holds it before it
		// takes the file's threads: the thread read next is then there
		// until this commits, or already gone.
		if err := lockVisit(ctx, tx, p.VisitID); err != nil {
			return nil, err
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM questions WHERE visit_id = ? AND id = ?`, p.VisitID, p.QuestionID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound // taken with its file meanwhile
		}
		if err != nil {
			return nil, err
		}
		res, err := tx.ExecContext(ctx, `UPDATE questions SET answered_by = NULL, answered_at = NULL
			WHERE visit_id = ? AND id = ? AND side = ? AND answered_at IS NOT NULL`, p.VisitID, p.QuestionID, p.Side)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if err := insertPost(ctx, tx, p); err != nil {
			return nil, err
		}
		return []AuditRecord{rec(n > 0)}, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: add post: %w", err)
	}
	return err
}

func insertPost(ctx context.Context, tx *Tx, p Post) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO question_posts (id, question_id, visit_id, side, posted_by, posted_at, text_sealed) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.QuestionID, p.VisitID, p.Side, p.PostedBy, formatTime(p.PostedAt), p.TextSealed)
	return err
}

// MarkAnswered closes an open thread: ErrConflict when it was already
// answered, ErrNotFound when there is no such thread.
func (s *Store) MarkAnswered(ctx context.Context, visitID, id, by string, at time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		err := execOne(ctx, tx, `UPDATE questions SET answered_by = ?, answered_at = ? WHERE visit_id = ? AND id = ? AND answered_at IS NULL`,
			by, formatTime(at), visitID, id)
		if errors.Is(err, ErrNotFound) {
			var n int
			if e := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM questions WHERE visit_id = ? AND id = ?`, visitID, id).Scan(&n); e == nil && n > 0 {
				return ErrConflict
			}
		}
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("store: mark answered: %w", err)
	}
	return err
}

// Question is one thread of a visit (ErrNotFound when there is none).
func (s *Store) Question(ctx context.Context, visitID, id string) (Question, error) {
	return questionIn(ctx, s.db, visitID, id)
}

func questionIn(ctx context.Context, db rowQuerier, visitID, id string) (Question, error) {
	q, err := scanQuestion(db.QueryRowContext(ctx, `SELECT `+questionColumns+` FROM questions WHERE visit_id = ? AND id = ?`, visitID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return q, ErrNotFound
	}
	if err != nil {
		return q, fmt.Errorf("store: question: %w", err)
	}
	return q, nil
}

// Questions lists a visit's threads, the oldest first.
func (s *Store) Questions(ctx context.Context, visitID string) ([]Question, error) {
	out, err := queryAll(ctx, s.db, scanQuestion, `SELECT `+questionColumns+` FROM questions WHERE visit_id = ? ORDER BY asked_at, id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: questions: %w", err)
	}
	return out, nil
}

// Posts lists every post of a visit's threads, in the order they were
// posted (a visit holds few: one read serves a page).
func (s *Store) Posts(ctx context.Context, visitID string) ([]Post, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (Post, error) {
		var p Post
		var at string
		if err := sc.Scan(&p.ID, &p.QuestionID, &p.VisitID, &p.Side, &p.PostedBy, &at, &p.TextSealed); err != nil {
			return p, err
		}
		var d dates
		p.PostedAt = d.time(at)
		return p, d.err
	}, `SELECT id, question_id, visit_id, side, posted_by, posted_at, text_sealed FROM question_posts WHERE visit_id = ? ORDER BY posted_at, id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: posts: %w", err)
	}
	return out, nil
}
