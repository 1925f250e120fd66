package store

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// TestWritesWaitABoundedTime: another process (a portal command run beside
// portal serve) holds SQLite's write lock for long. However many writes of
// this process queue meanwhile, each fails as the database unavailable
// (IsUnavailable, answered 503) within about the busy timeout. Before, they
// queued for the one writing connection one after another, each then
// waiting its own busy timeout: the last of n waited n times as long, and a
// request behind a long queue hung for minutes.
func TestWritesWaitABoundedTime(t *testing.T) {
	sqliteOnly(t)
	defer func(old time.Duration) { busyWait = old }(busyWait)
	busyWait = 400 * time.Millisecond
	ctx := context.Background()
	s := openTest(t)
	other, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `ROLLBACK`)

	const n = 8
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, n)
	start := time.Now()
	for i := range n {
		go func() {
			var err error
			if i%2 == 0 {
				err = s.Audit(ctx, AuditRecord{Action: "test.write", Time: time.Now()})
			} else {
				err = s.TouchFailed(ctx, "no-such-upload", time.Now())
			}
			results <- result{err, time.Since(start)}
		}()
	}
	for range n {
		r := <-results
		if !IsUnavailable(r.err) {
			t.Errorf("a write while another process holds the database: %v, want it unavailable", r.err)
		}
		if limit := 2*busyWait + 500*time.Millisecond; r.took > limit {
			t.Errorf("a write waited %s for a database another process holds, want at most %s (busy timeout %s)", r.took.Round(time.Millisecond), limit, busyWait)
		}
	}
	// Once the other process lets go, writes go through at once.
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditRecord{Action: "test.write", Time: time.Now()}); err != nil {
		t.Fatalf("a write once the database is free: %v", err)
	}
}

// TestStalledTransactionLetsGo: an instance stops in the middle of a
// transaction that appends to the audit trail (frozen, paused, or cut off
// from the database while its connection stays open), holding the lock
// every append takes. Another instance's appends fail as unavailable
// meanwhile (the statement timeout), and go through again once PostgreSQL
// has ended the stalled transaction, within twice the statement timeout;
// the stalled one stores nothing. Before, the lock was held for as long as
// the connection stayed open (hours, with TCP's keepalive defaults), and
// no instance could record any act.
func TestStalledTransactionLetsGo(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("row and advisory locks are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	url, err := pgserver.NewTestDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o := PostgresOptions{StatementTimeout: 500 * time.Millisecond}
	stalled, err := OpenPostgres(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	other, err := OpenPostgres(ctx, url, o)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	holding, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- stalled.inTx(ctx, func(tx *Tx) error {
			if err := lockAudit(ctx, tx); err != nil {
				return err
			}
			close(holding)
			<-resume
			return nil
		}, AuditRecord{Action: "test.stalled", Time: time.Now()})
	}()
	<-holding
	start := time.Now()
	for {
		err := other.Audit(ctx, AuditRecord{Action: "test.other", Time: time.Now()})
		if err == nil {
			break
		}
		if !IsUnavailable(err) {
			t.Fatalf("an append while another instance holds the trail: %v, want it unavailable", err)
		}
		if time.Since(start) > 10*time.Second {
			close(resume)
			t.Fatalf("appends still refused %s after another instance stalled holding the trail: %v", time.Since(start).Round(time.Second), err)
		}
	}
	close(resume)
	if err := <-done; err == nil {
		t.Fatal("the stalled transaction committed after PostgreSQL ended it")
	}
	var n int
	if err := other.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit WHERE action = 'test.stalled'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the stalled transaction's records: %d (%v)", n, err)
	}
}

// TestBackupSnapshotOutlivesTheIdleLimit: the snapshot a backup holds open
// while pg_dump reads from it stays, however long the dump takes: it alone
// is exempt from the limit on idle transactions.
func TestBackupSnapshotOutlivesTheIdleLimit(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("snapshots are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	url, err := pgserver.NewTestDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, url, PostgresOptions{StatementTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.ExportSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	time.Sleep(time.Second)
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN ISOLATION LEVEL REPEATABLE READ`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `ROLLBACK`)
	if _, err := conn.ExecContext(ctx, `SET TRANSACTION SNAPSHOT '`+snap.ID+`'`); err != nil {
		t.Fatalf("the backup's snapshot, idle for a second: %v", err)
	}
}

// openPoolOfOne opens a new PostgreSQL test database with a pool of one
// connection (PostgresOptions.MaxConns 1, the least the setting takes),
// closed when the test ends, and a context that bounds the test: a wait
// for a second connection would otherwise never end. It skips the test
// outside make test's PostgreSQL pass.
func openPoolOfOne(t *testing.T) (*Store, context.Context) {
	t.Helper()
	if !pgserver.TestDatabaseWanted() {
		t.Skip("a pool of connections is PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	url, err := pgserver.NewTestDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	s, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: 1})
	if err != nil {
		t.Fatalf("open with a pool of one connection: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ctx
}

// TestPoolOfOneOpens: a pool of one connection (PostgresOptions.MaxConns
// 1, the least the setting takes) opens and migrates. Before, migrating
// held that connection for the migration lock while the migration itself
// waited for another: the portal never started, and said nothing.
func TestPoolOfOneOpens(t *testing.T) {
	s, ctx := openPoolOfOne(t)
	if err := s.Audit(ctx, AuditRecord{Action: "test.write", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// TestIdPLogoutWithAPoolOfOne: ending the sessions a provider's logout
// token names decides each session (whose it is, read through the store)
// before the transaction that ends them holds a connection. Inside it, each
// decision waited for a second connection of the pool: with a pool of one
// it waited for itself, and with the default pool as many logouts at once
// as connections held every one and stalled the instance.
func TestIdPLogoutWithAPoolOfOne(t *testing.T) {
	s, ctx := openPoolOfOne(t)
	now := time.Now()
	u, err := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry, idp_session) VALUES (?, ?, ?, ?)`,
		"token-1", []byte("data"), unixFloat(now.Add(time.Hour)), "sid-key"); err != nil {
		t.Fatal(err)
	}
	ended, err := s.EndIdPSessions(ctx, Logout{TokenKey: "jti-key", KeepUntil: now.Add(time.Minute), IdPSession: "sid-key", IssuedAt: now}, now, func([]byte) ([]AuditRecord, bool, error) {
		// What the portal's decision reads: the session's person.
		if _, _, err := s.UserWithPortalRole(ctx, u.ID, "administrator"); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	})
	if err != nil || ended != 1 {
		t.Fatalf("a logout of one session with a pool of one connection: %d ended, %v; want 1", ended, err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE token = 'token-1'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the session is still there (%d, %v)", n, err)
	}
}

// TestPoolWaitIsBounded: a statement waits for a connection of the pool
// at most PoolWait, then fails as the database unavailable (the request
// answers 503 database_unavailable with Retry-After). database/sql's own
// wait has no bound but the request's context: with every connection
// held (long statements, transactions stalled until the idle timeout)
// each request hung until its client gave up, and then it was not even
// counted as the database's fault.
func TestPoolWaitIsBounded(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("a pool of connections is PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	url, err := pgserver.NewTestDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const wait = 500 * time.Millisecond
	s, err := OpenPostgres(ctx, url, PostgresOptions{MaxConns: 1, PoolWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held, err := s.db.BeginTx(ctx, nil) // the pool's one connection
	if err != nil {
		t.Fatal(err)
	}
	for name, act := range map[string]func(ctx context.Context) error{
		"read": func(ctx context.Context) error {
			var n int
			return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&n)
		},
		"rows": func(ctx context.Context) error {
			rows, err := s.db.QueryContext(ctx, `SELECT 1`)
			if err == nil {
				rows.Close()
			}
			return err
		},
		"write": func(ctx context.Context) error {
			return s.Audit(ctx, AuditRecord{Action: "test.write", Time: time.Now()})
		},
		"exec":        func(ctx context.Context) error { _, err := s.db.ExecContext(ctx, `SELECT 1`); return err },
		"transaction": func(ctx context.Context) error { return s.inTx(ctx, func(*Tx) error { return nil }) },
	} {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		start := time.Now()
		err := act(rctx)
		took := time.Since(start)
		cancel()
		if !IsUnavailable(err) || !errors.Is(err, ErrPoolExhausted) || took > wait+2*time.Second {
			t.Errorf("a %s waited %s for the pool's connection and ended with %v; want the pool exhausted after %s", name, took.Round(time.Millisecond), err, wait)
		}
	}
	held.Rollback()
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("once the connection is free: %d, %v", n, err)
	}
}

// TestSlowConnectIsNotAFullPool: PostgreSQL that accepts a connection and
// does not answer it (its host overloaded, a firewall dropping the
// replies) leaves a statement waiting PoolWait for a connection the pool
// is still opening. It fails as the database unavailable, as before, but
// says what happened: the pool had room, and the database did not take a
// new connection in time. Before, it said every connection of the pool
// stayed in use, which sends an operator to raise PORTAL_DB_MAX_CONNS.
func TestSlowConnectIsNotAFullPool(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("a pool of connections is PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	dbURL, err := pgserver.NewTestDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// A proxy in front of PostgreSQL that, once told to, accepts new
	// connections and sends them nowhere.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	upstream := u.Host
	var silent atomic.Bool
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if silent.Load() {
				continue
			}
			go func() {
				up, err := net.Dial("tcp", upstream)
				if err != nil {
					c.Close()
					return
				}
				mu.Lock()
				conns = append(conns, up)
				mu.Unlock()
				go io.Copy(up, c)
				io.Copy(c, up)
			}()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	u.Host = l.Addr().String()
	ctx := context.Background()
	const wait = 500 * time.Millisecond
	s, err := OpenPostgres(ctx, u.String(), PostgresOptions{MaxConns: 4, PoolWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	silent.Store(true)
	s.db.DB.SetMaxIdleConns(0) // every connection from here is a new one
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	var n int
	err = s.db.QueryRowContext(rctx, `SELECT 1`).Scan(&n)
	took := time.Since(start)
	if !IsUnavailable(err) || took > wait+2*time.Second {
		t.Fatalf("a statement waited %s for a connection PostgreSQL did not answer, and ended with %v; want the database unavailable after %s", took.Round(time.Millisecond), err, wait)
	}
	if errors.Is(err, ErrPoolExhausted) || !strings.Contains(err.Error(), "did not accept a new connection") {
		t.Fatalf("with three of the pool's four connections free, a connection PostgreSQL did not answer is reported as %q", err)
	}
}

// TestSessionsEndWithAPoolOfOne: the janitor's sweep of expired sessions
// and a sign-out that arrives just after the idle timeout read whose
// session it was (for its record) before the transaction that ends it
// holds a connection, as EndIdPSessions does. Inside it, the read waited
// for a second connection: with a pool of one it waited for itself until
// the pool's wait ran out, the instance stalled meanwhile, and the record
// was dropped.
func TestSessionsEndWithAPoolOfOne(t *testing.T) {
	s, ctx := openPoolOfOne(t)
	now := time.Now()
	u, err := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"token-swept", "token-taken"} {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)`, tok, []byte(tok), unixFloat(now.Add(-time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(data []byte) ([]AuditRecord, error) {
		// What the portal's records read: the session's person.
		got, err := s.User(ctx, u.ID)
		if err != nil {
			t.Errorf("reading the person of session %s: %v", data, err)
			return nil, err
		}
		return []AuditRecord{{Time: now, ActorSubject: got.Subject, Action: "session.ended", Object: string(data), Outcome: "success"}}, nil
	}
	sessions := s.Sessions(time.Now)
	start := time.Now()
	if _, found, err := sessions.TakeEnded(ctx, "token-taken", rec); err != nil || !found {
		t.Fatalf("a late sign-out with a pool of one connection: found %v, %v", found, err)
	}
	if err := sessions.DeleteExpired(ctx, rec); err != nil {
		t.Fatalf("the sweep of expired sessions with a pool of one connection: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ending two sessions took %v: each waited for the pool", d)
	}
	recs, err := s.AuditRecords(ctx, AuditFilter{Action: "session.ended"})
	if err != nil || len(recs) != 2 {
		t.Fatalf("records of the sessions ended: %+v (%v), want two", recs, err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d sessions left (%v), want none", n, err)
	}
}
