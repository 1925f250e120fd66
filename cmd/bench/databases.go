package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// The database-bound cases, on the SQLite stack and on a second stack whose
// portal keeps its metadata on PostgreSQL (a cluster of its own with its
// default, durable settings: every commit is flushed, as SQLite's are but
// an upload's begin, flush.go). Each measures whole
// requests through the portal, the same way on both.

type dbCase struct {
	name, unit     string
	higherIsBetter bool
	run            func(ctx context.Context, b *bench, visitID string) (float64, error)
}

var dbCases = []dbCase{
	{"5,000 files of 64 KiB, 8 clients", "files/s", true, func(ctx context.Context, b *bench, v string) (float64, error) {
		return parallel(5000, func(j int) error {
			_, err := b.portalUpload(v, fmt.Sprintf("1.0%d small %05d.bin", j%5+1, j), 64<<10)
			return err
		})
	}},
	{"list the visit's 5,000 files (names decrypted), p50", "ms", false, func(ctx context.Context, b *bench, v string) (float64, error) {
		return medianOf(21, func() error {
			n, err := listAll(b.lead, b.st.portalURL+"/api/v1/visits/"+v+"/files")
			if err == nil && n != 5000 {
				err = fmt.Errorf("listed %d files of 5,000", n)
			}
			return err
		})
	}},
	{"the visit's page (HTML, 5,000 files), p50", "ms", false, func(ctx context.Context, b *bench, v string) (float64, error) {
		return b.p50(b.lead, "/visits/"+v, 11)
	}},
	{"a decided request end to end (GET the visit), p50", "ms", false, func(ctx context.Context, b *bench, v string) (float64, error) {
		return b.p50(b.lead, "/api/v1/visits/"+v, 201)
	}},
}

// p50 is the median time of n GETs of path.
func (b *bench) p50(c *http.Client, path string, n int) (float64, error) {
	return medianOf(n, func() error { return call(c, "GET", b.st.portalURL+path, "", 200, nil) })
}

// medianOf is the median time, in ms, of n calls of one.
func medianOf(n int, one func() error) (float64, error) {
	var ms []float64
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := one(); err != nil {
			return 0, err
		}
		ms = append(ms, float64(time.Since(t).Microseconds())/1000)
	}
	return median(ms), nil
}

// dbVisit creates a visit with the uploader and the lead as members, who
// sign in again so that the memberships bind.
func (b *bench) dbVisit(ctx context.Context, ref string) (string, error) {
	if err := b.createVisits(ctx, ref); err != nil {
		return "", err
	}
	var err error
	if b.uploader, err = devstack.SignIn(ctx, b.st.portalURL, "cafcass", "uploader@cafcass.example", devidp.DemoPassword); err != nil {
		return "", err
	}
	if b.lead, err = devstack.SignIn(ctx, b.st.portalURL, "ofsted", "lead@ofsted.example", devidp.DemoPassword); err != nil {
		return "", err
	}
	return b.visitIDs[ref], nil
}

// databases runs dbCases on SQLite (this bench's stack) and on PostgreSQL,
// and returns the side-by-side table.
func (b *bench) databases(ctx context.Context) (string, error) {
	fmt.Println("Database-bound cases on SQLite and on PostgreSQL...")
	lite, err := b.runDBCases(ctx, "BENCH-DB-SQLITE")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "portal-bench-pg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	// BENCH_PG_FAST=1 turns off PostgreSQL's flushes (fsync,
	// synchronous_commit), to tell their cost from the rest.
	pg, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Fast: os.Getenv("BENCH_PG_FAST") != ""})
	if err != nil {
		return "", err
	}
	defer pg.Stop()
	st, err := startStack(ctx, pg.URL)
	if st != nil {
		defer st.close()
	}
	if err != nil {
		return "", err
	}
	pb := &bench{pairs: b.pairs, size: b.size, st: st}
	if err := pb.setUp(ctx); err != nil {
		return "", err
	}
	post, err := pb.runDBCases(ctx, "BENCH-DB-PG")
	if err != nil {
		return "", err
	}
	var s strings.Builder
	s.WriteString("Database-bound cases, whole requests, SQLite and PostgreSQL side by side:\n\n")
	s.WriteString("| case | SQLite | PostgreSQL | PostgreSQL's cost (× SQLite's) |\n|---|---|---|---|\n")
	for i, c := range dbCases {
		cost := post[i] / lite[i]
		if c.higherIsBetter {
			cost = lite[i] / post[i]
		}
		flag := ""
		if cost > 1.5 {
			flag = " (over 1.5×: see README)"
		}
		fmt.Fprintf(&s, "| %s | %.1f %s | %.1f %s | %.2f%s |\n", c.name, lite[i], c.unit, post[i], c.unit, cost, flag)
	}
	return strings.TrimRight(s.String(), "\n"), nil
}

func (b *bench) runDBCases(ctx context.Context, ref string) ([]float64, error) {
	v, err := b.dbVisit(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(dbCases))
	for i, c := range dbCases {
		if out[i], err = c.run(ctx, b, v); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Printf("   %s: %.1f %s\n", c.name, out[i], c.unit)
	}
	return out, nil
}
