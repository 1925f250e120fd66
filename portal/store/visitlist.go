package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// VisitRow is a visit as a list of visits shows it, with everything its
// status needs, loaded for a whole page at once: a page of visits costs
// the same few statements whether the portal holds ten visits or ten
// thousand.
type VisitRow struct {
	Visit
	// Member is the user's membership (nil for none): its id, role and
	// window, all a list and the access it gives need; the member's
	// names and times are left empty.
	Member *Member
	// Memberships are all of the user's memberships of the visit, when
	// they have more than one (Member is then the first by id): which
	// applies is the portal's to decide.
	Memberships []Member
	Hold        LegalHold
	// Events are the visit's letter events in the order recorded, with
	// their visit, event and date (who recorded them, and when, are left
	// empty: a status needs neither).
	Events         []Event
	Notice         *Notice
	Failure        *Failure
	KeyFingerprint string // "" once the key is destroyed
	// version is the visit's row_version as the page read it (lists of
	// visits only: rowcache.go).
	version int64
}

// visitRowColumns are a visit's columns (visitColumns), its legal hold,
// and its live key's fingerprint (NULL once the key is destroyed).
const visitRowColumns = visitColumns + `, legal_hold, legal_hold_reason_sealed, legal_hold_at, legal_hold_by, (SELECT fingerprint FROM visit_keys WHERE visit_id = visits.id)`

// scanVisitRow scans visitRowColumns, and the columns after them into
// more.
func scanVisitRow(sc scanner, more ...any) (VisitRow, error) {
	var r VisitRow
	var holdAt, fp sql.NullString
	if err := scanVisitInto(sc, &r.Visit, append([]any{&r.Hold.On, &r.Hold.ReasonSealed, &holdAt, &r.Hold.By, &fp}, more...)...); err != nil {
		return r, err
	}
	var d dates
	r.Hold.At = d.null(holdAt)
	r.KeyFingerprint = fp.String
	return r, d.err
}

// VisitWithHold returns one visit with its legal hold and its live key's
// fingerprint, in one statement: what every request on a visit reads
// first (its status needs the hold, and most then need the key). The
// row's other parts are left empty.
func (s *Store) VisitWithHold(ctx context.Context, id string) (VisitRow, error) {
	r, err := scanVisitRow(s.db.QueryRowContext(ctx, `SELECT `+visitRowColumns+` FROM visits WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return VisitRow{}, ErrNotFound
	}
	if err != nil {
		return VisitRow{}, fmt.Errorf("store: visit %s: %w", id, err)
	}
	return r, nil
}

// VisitCursor is where a page of visits starts: after the visit with this
// notification date and reference (the list's order). The zero cursor is
// the first page.
type VisitCursor struct {
	NotificationDate time.Time
	Reference        string
}

// The page of visits, in list order (newest notification first), after a
// cursor; ? are: the user (member lists only), the cursor's date three
// times and reference, and the page size. Every query of the page repeats
// it, so that each is one statement of fixed text. Each seeks the
// cursor's date in its index (the first condition, which the second
// implies, is the one an index can serve) and reads a page from there:
// without it, the page after a thousand visits read the thousand first.
// A member's page is read from their memberships in the same order
// (members_list), once for a visit they belong to twice.
const (
	visitPageAll = `SELECT id FROM visits WHERE notification_date <= ? AND (notification_date < ? OR notification_date = ? AND reference > ?)
		ORDER BY notification_date DESC, reference LIMIT ?`
	visitPageMember = `SELECT visit_id FROM (SELECT DISTINCT list_date, list_reference, visit_id FROM members WHERE user_id = ?
		AND list_date <= ? AND (list_date < ? OR list_date = ? AND list_reference > ?) ORDER BY list_date DESC, list_reference, visit_id LIMIT ?) page`
)

// VisitPage returns up to limit visits after the cursor, every visit (all)
// or those userID is a member of, with userID's membership of each.
func (s *Store) VisitPage(ctx context.Context, userID string, all bool, after VisitCursor, limit int) ([]VisitRow, error) {
	page, args := visitPageMember, []any{userID}
	if all {
		page, args = visitPageAll, nil
	}
	rows, err := s.listRows(ctx, userID, limit, page, append(args, after.args(limit)...))
	if err != nil {
		return nil, err
	}
	if err := s.completeRows(ctx, true, rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// args are the cursor's arguments of a page statement of limit visits.
func (after VisitCursor) args(limit int) []any {
	date := "9999-12-31"
	if !after.NotificationDate.IsZero() {
		date = after.NotificationDate.Format(dateFormat)
	}
	return []any{date, date, date, after.Reference, limit}
}

// A page of the visits for review: those under a destruction notice,
// active or being destroyed, soonest first, and before them those whose
// destruction failed before a notice could be given (NoNoticeDate); after
// the cursor's destruction date and visit; ? are the date twice, the visit
// and the page size.
const noticedVisits = `SELECT visit_id FROM (
	SELECT visit_id, destroy_on AS d FROM destruction_notices WHERE EXISTS (SELECT 1 FROM visits WHERE visits.id = destruction_notices.visit_id AND visits.state IN ('active', 'destroying'))
	UNION ALL SELECT visit_id, '` + NoNoticeDate + `' AS d FROM retention_failures WHERE EXISTS (SELECT 1 FROM visits WHERE visits.id = retention_failures.visit_id AND visits.state IN ('active', 'destroying'))
		AND NOT EXISTS (SELECT 1 FROM destruction_notices WHERE destruction_notices.visit_id = retention_failures.visit_id)
	) review WHERE d > ? OR d = ? AND visit_id > ? ORDER BY d, visit_id LIMIT ?`

// NoNoticeDate stands for the destruction date, in the review's order and
// its cursor, of a visit whose destruction failed before its notice was
// given: such visits come first.
const NoNoticeDate = "0001-01-01"

// NoticeCursor is where a page of noticed visits starts: after this visit,
// whose destruction date is DestroyOn (the zero cursor: the first page).
type NoticeCursor struct {
	DestroyOn string // YYYY-MM-DD
	VisitID   string
}

// NoticedVisits returns up to limit visits for review after the cursor
// (noticedVisits: under a destruction notice, or whose destruction failed,
// and not yet destroyed), soonest destruction first, with userID's
// membership of each.
func (s *Store) NoticedVisits(ctx context.Context, userID string, after NoticeCursor, limit int) ([]VisitRow, error) {
	rows, err := s.visitRows(ctx, userID, limit, noticedVisits, []any{after.DestroyOn, after.DestroyOn, after.VisitID, limit})
	on := func(r VisitRow) time.Time {
		if r.Notice == nil {
			return time.Time{}
		}
		return r.Notice.DestroyOn
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := on(rows[i]), on(rows[j])
		return a.Before(b) || a.Equal(b) && rows[i].ID < rows[j].ID
	})
	return rows, err
}

// The visits administrators are warned of: those whose destruction failed
// first, then those under notice and still active, soonest first; ? is
// how many.
const warnedVisits = `SELECT visit_id FROM (
	SELECT visit_id, 0 AS k, '' AS d FROM retention_failures
	UNION ALL SELECT visit_id, 1 AS k, destroy_on AS d FROM destruction_notices
		WHERE EXISTS (SELECT 1 FROM visits WHERE visits.id = destruction_notices.visit_id AND visits.state = 'active') AND NOT EXISTS (SELECT 1 FROM retention_failures WHERE retention_failures.visit_id = destruction_notices.visit_id)
	) w ORDER BY k, d, visit_id LIMIT ?`

// VisitPageWarned is VisitPage of every visit (the administrators' list)
// with, beside it, the first warnLimit visits whose destruction failed or
// is under notice and how many there are in all: what the administrators'
// list shows on any page. The two lists' rows are completed together
// (completeRows: from memory, or in four statements for both), so the
// warnings add two statements to the page (their count, and which they
// are).
func (s *Store) VisitPageWarned(ctx context.Context, userID string, after VisitCursor, limit, warnLimit int) (page, warned []VisitRow, total int, err error) {
	if page, err = s.listRows(ctx, userID, limit, visitPageAll, after.args(limit)); err != nil {
		return nil, nil, 0, err
	}
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM retention_failures) + (SELECT COUNT(*) FROM destruction_notices
		WHERE EXISTS (SELECT 1 FROM visits WHERE visits.id = destruction_notices.visit_id AND visits.state = 'active') AND NOT EXISTS (SELECT 1 FROM retention_failures WHERE retention_failures.visit_id = destruction_notices.visit_id))`).Scan(&total); err != nil {
		return nil, nil, 0, fmt.Errorf("store: warned visits: %w", err)
	}
	if total > 0 {
		if warned, err = s.listRows(ctx, userID, warnLimit, warnedVisits, []any{warnLimit}); err != nil {
			return nil, nil, 0, err
		}
	}
	if err := s.completeRows(ctx, true, page, warned); err != nil {
		return nil, nil, 0, err
	}
	return page, warned, total, nil
}

// Visits not destroyed, in one state, a page at a time in id order after
// a visit id; ? are the state, the id and the page size (visits_state).
const liveVisits = `SELECT id FROM visits WHERE state = ? AND id > ? ORDER BY id LIMIT ?`

// livePage is how many visits LiveVisitPages reads at a time: at 1,000
// live visits, two pages; a page's rows with their events are well under
// a megabyte.
const livePage = 500

// LiveVisitPages calls fn with every visit not destroyed, those being
// destroyed first, then the active ones, each in id order, a page of at
// most livePage visits at a time, each with its legal hold, letter events,
// destruction notice and failure: what the destruction sweep, the
// retention review and the scheduled notifications decide from, a few
// statements a page. An error from fn stops the walk and is returned.
func (s *Store) LiveVisitPages(ctx context.Context, fn func([]VisitRow) error) error {
	page := livePage
	for _, state := range []string{"destroying", "active"} {
		for after := ""; ; {
			rows, err := s.visitRows(ctx, "", page, liveVisits, []any{state, after, page})
			if err != nil {
				return err
			}
			slices.SortFunc(rows, func(a, b VisitRow) int { return strings.Compare(a.ID, b.ID) })
			if len(rows) > 0 {
				if err := fn(rows); err != nil {
					return err
				}
			}
			if len(rows) < page {
				break
			}
			after = rows[len(rows)-1].ID
		}
	}
	return nil
}

// DestroyedCounts counts the destroyed visits, and those of them with a
// failed attempt still recorded, from indexes: the retention review counts
// them without reading them.
func (s *Store) DestroyedCounts(ctx context.Context) (destroyed, failed int, err error) {
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM visits WHERE state = 'destroyed'),
		(SELECT COUNT(*) FROM retention_failures WHERE EXISTS (SELECT 1 FROM visits WHERE visits.id = retention_failures.visit_id AND visits.state = 'destroyed'))`).Scan(&destroyed, &failed); err != nil {
		return 0, 0, fmt.Errorf("store: destroyed visits: %w", err)
	}
	return destroyed, failed, nil
}

// visitRows loads the visits that the query page (of fixed text, with its
// args) selects, and what their status needs, read afresh (never from the
// lists' memory): what the destruction sweep, the review and the
// scheduled notifications decide from. Five statements in all.
func (s *Store) visitRows(ctx context.Context, userID string, limit int, page string, args []any) ([]VisitRow, error) {
	rows, err := s.listRows(ctx, userID, limit, page, args)
	if err != nil {
		return nil, err
	}
	if err := s.completeRows(ctx, false, rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// appendRow appends a row of a page of visits, in the page's order, or,
// when it is the same visit as the last with the user's second
// membership, folds that membership into the last (Memberships).
func appendRow(out []VisitRow, row VisitRow) []VisitRow {
	if n := len(out); n > 0 && out[n-1].ID == row.ID {
		prev := &out[n-1]
		if len(prev.Memberships) == 0 {
			prev.Memberships = []Member{*prev.Member}
		}
		prev.Memberships = append(prev.Memberships, *row.Member)
		return out
	}
	return append(out, row)
}

// listRows reads the page of visits that the query page (of fixed text,
// with its args) selects, in the list's order, each with userID's
// membership, its key's fingerprint and its row_version, and nothing
// else (completeRows): one statement.
func (s *Store) listRows(ctx context.Context, userID string, limit int, page string, args []any) ([]VisitRow, error) {
	// The user's membership comes with each visit: a member is bound to
	// one user once per visit (sign-in binds an email only where the
	// identity is not yet a member), but the schema does not say so, so a
	// second membership comes with the first (Memberships) rather than
	// the visit listed twice.
	q, err := s.db.QueryContext(ctx, `SELECT visits.id, visits.row_version, (SELECT fingerprint FROM visit_keys WHERE visit_id = visits.id),
		members.id, members.role, members.issuer, members.subject, members.valid_from, members.valid_until
		FROM visits LEFT JOIN members ON members.visit_id = visits.id AND members.user_id = ?
		WHERE visits.id IN (`+page+`) ORDER BY notification_date DESC, reference, members.id`, append([]any{userID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: page of visits: %w", err)
	}
	defer q.Close()
	var (
		row                    VisitRow
		fp                     sql.NullString
		memberID, role, issuer sql.NullString
		subject, from, until   sql.NullString
	)
	dest := []any{&row.ID, &row.version, &fp, &memberID, &role, &issuer, &subject, &from, &until}
	out := make([]VisitRow, 0, min(limit, 1000))
	read := 0
	for q.Next() {
		read++
		row = VisitRow{}
		if err := q.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: page of visits: %w", err)
		}
		row.KeyFingerprint = fp.String
		if memberID.Valid {
			var ds dates
			row.Member = &Member{ID: memberID.String, VisitID: row.ID, UserID: userID, Role: role.String, Issuer: issuer.String, Subject: subject.String,
				ValidFrom: ds.null(from), ValidUntil: ds.null(until)}
			if ds.err != nil {
				return nil, fmt.Errorf("store: page of visits: %w", ds.err)
			}
		}
		out = appendRow(out, row)
	}
	countRows(ctx, read)
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("store: page of visits: %w", err)
	}
	return out, nil
}

// completeRows gives the rows of lists (listRows) the rest of each visit:
// with memory, from the process's memory (rowCache) where the visit's
// version is the one kept; the others from the database, four statements
// for all of them (their columns, letter events, notices and failures),
// then kept. Without memory, every visit is read and nothing kept. A
// row keeps the membership and fingerprint its page read.
func (s *Store) completeRows(ctx context.Context, memory bool, lists ...[]VisitRow) error {
	var missed []string
	need := map[string]bool{}
	for _, rows := range lists {
		for i := range rows {
			r := &rows[i]
			if memory {
				if kept, ok := s.rows.get(r.ID, r.version); ok {
					r.complete(kept)
					continue
				}
			}
			if !need[r.ID] {
				need[r.ID] = true
				missed = append(missed, r.ID)
			}
		}
	}
	if len(missed) == 0 {
		return nil
	}
	list, err := json.Marshal(missed)
	if err != nil {
		return fmt.Errorf("store: page of visits: %w", err)
	}
	read, err := queryAll(ctx, s.db, func(sc scanner) (VisitRow, error) {
		var version int64
		r, err := scanVisitRow(sc, &version)
		r.version = version
		return r, err
	}, `SELECT `+visitRowColumns+`, row_version FROM visits WHERE `+s.inIDs("id"), string(list))
	if err != nil {
		return fmt.Errorf("store: page of visits: %w", err)
	}
	if err := s.fillRows(ctx, read); err != nil {
		return err
	}
	byID := make(map[string]*VisitRow, len(read))
	for i := range read {
		r := &read[i]
		if memory {
			r.KeyFingerprint = "" // read with each page, never kept
			s.rows.put(*r, r.version)
		}
		byID[r.ID] = r
	}
	for _, rows := range lists {
		for i := range rows {
			r := &rows[i]
			if !need[r.ID] {
				continue // kept
			}
			got, ok := byID[r.ID]
			if !ok {
				return fmt.Errorf("store: page of visits: visit %s: %w", r.ID, ErrNotFound)
			}
			r.complete(got.clone())
		}
	}
	return nil
}

// complete makes r, a row as its page read it, the visit full (its
// columns, events, notice and failure), keeping the membership,
// fingerprint and version the page read.
func (r *VisitRow) complete(full VisitRow) {
	full.Member, full.Memberships, full.KeyFingerprint, full.version = r.Member, r.Memberships, r.KeyFingerprint, r.version
	*r = full
}

// fillRows reads what the status of the visits in lists needs beyond their
// rows (their letter events, destruction notices and failures), three
// statements for all of them, whichever list they are in, or both.
func (s *Store) fillRows(ctx context.Context, lists ...[]VisitRow) error {
	fail := func(err error) error { return fmt.Errorf("store: page of visits: %w", err) }
	n := 0
	for _, rows := range lists {
		n += len(rows)
	}
	at := make(map[string][]*VisitRow, n)
	ids := make([]string, 0, n)
	for _, rows := range lists {
		for i := range rows {
			id := rows[i].ID
			if _, ok := at[id]; !ok {
				ids = append(ids, id)
			}
			at[id] = append(at[id], &rows[i])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// The rest is read by the visits' ids, a JSON array in one argument:
	// finding the page again in each statement would sort a member's
	// visits once per statement.
	list, err := json.Marshal(ids)
	if err != nil {
		return fail(err)
	}
	in, arg := s.inIDs("visit_id"), string(list)
	// A page's events are what a status replays: each event and its
	// date, a visit's in the order recorded.
	evs, err := queryAll(ctx, s.db, func(sc scanner) (Event, error) {
		var e Event
		var day, at string
		if err := sc.Scan(&e.VisitID, &e.Event, &day, &e.RecordedBy, &at); err != nil {
			return e, err
		}
		var d dates
		e.Date, e.RecordedAt = d.date(day), d.time(at)
		return e, d.err
	}, s.pageEvents(), arg)
	if err != nil {
		return fail(err)
	}
	for _, e := range evs {
		for _, r := range at[e.VisitID] {
			r.Events = append(r.Events, e)
		}
	}
	ns, err := queryAll(ctx, s.db, scanNotice, `SELECT `+noticeColumns+` FROM destruction_notices WHERE `+in, arg)
	if err != nil {
		return fail(err)
	}
	for _, n := range ns {
		for _, r := range at[n.VisitID] {
			r.Notice = &n
		}
	}
	fs, err := queryAll(ctx, s.db, scanFailure, `SELECT visit_id, attempts, first_failed_at, last_failed_at, next_attempt_at, reason FROM retention_failures
		WHERE `+in, arg)
	if err != nil {
		return fail(err)
	}
	for _, f := range fs {
		for _, r := range at[f.VisitID] {
			r.Failure = &f
		}
	}
	return nil
}

// UserVisit is one visit a user is a member of, with the role.
type UserVisit struct {
	VisitID, Reference, Role string
	NotificationDate         time.Time
}

// UserVisits lists, in one statement, the first limit visits userID is a
// bound member of, newest notification first.
func (s *Store) UserVisits(ctx context.Context, userID string, limit int) ([]UserVisit, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (UserVisit, error) {
		var u UserVisit
		var nd string
		if err := sc.Scan(&u.VisitID, &u.Reference, &u.Role, &nd); err != nil {
			return u, err
		}
		var d dates
		u.NotificationDate = d.date(nd)
		return u, d.err
	}, `SELECT v.id, v.reference, m.role, v.notification_date FROM members m JOIN visits v ON v.id = m.visit_id
		WHERE m.user_id = ? ORDER BY m.list_date DESC, m.list_reference LIMIT ?`, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: visits of user: %w", err)
	}
	return out, nil
}

// pageEvents is the statement that reads the letter events of a page of
// visits (their ids, a JSON array, its one argument): each event, its
// date, who recorded it and when, a visit's in the order recorded, from
// visit_events_replay alone.
func (s *Store) pageEvents() string {
	return `SELECT visit_id, event, date, recorded_by, recorded_at FROM visit_events WHERE ` + s.inIDs("visit_id") + ` ORDER BY visit_id, recorded_at, id`
}

// inIDs is the condition that column is one of the ids in its one
// argument, a JSON array of strings, in the database's dialect. On
// PostgreSQL the array is made once (an uncorrelated ARRAY(...) is an
// init plan) and compared with = ANY, which an index can serve: written
// as IN (SELECT json_array_elements_text(...)) the planner may choose a
// nested loop that parses the JSON again for every row it joins (a
// member of 100 visits: 101 parses of the page's 50 ids).
func (s *Store) inIDs(column string) string {
	if s.db.pg {
		return column + ` = ANY(ARRAY(SELECT json_array_elements_text(CAST(? AS json))))`
	}
	return column + ` IN (SELECT value FROM json_each(?))`
}
