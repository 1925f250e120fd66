package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// The volume cases: the requests people make every day, timed on a portal
// holding one visit and on the same portal seeded to a year's volume
// (seed.go), on SQLite and on PostgreSQL. A request's cost must not grow
// with what the portal holds: p50 < 50 ms, p99 < 200 ms at volume, and at
// most 1.5 × the same request on the near-empty portal.

// latency is one route's timing in one phase; na when the build has no
// such request (paging and search arrive with the pages issue).
type latency struct {
	p50, p99 float64 // ms
	peakRSS  float64 // MiB, the portal's during the route's requests
	na       bool
}

type route struct {
	name  string
	admin bool // as the administrator; else as the lead inspector
	// path is the request's; "" when not in this build.
	path      func(v *volumeRun) string
	firstByte bool // time to the first byte of the body (an export's start)
	signIn    bool // the sign-in callback, timed alone
}

var volumeRoutes = []route{
	{name: "visit list (administrator)", admin: true, path: func(*volumeRun) string { return "/visits" }},
	{name: "visit list (member)", path: func(*volumeRun) string { return "/visits" }},
	{name: "visit page", path: func(v *volumeRun) string { return "/visits/" + v.target }},
	{name: "file list, first page", path: func(v *volumeRun) string { return "/api/v1/visits/" + v.target + "/files?limit=100" }},
	{name: "file list, a later page", path: func(v *volumeRun) string {
		if v.later == "" {
			return ""
		}
		return "/api/v1/visits/" + v.target + "/files?limit=100&after=" + url.QueryEscape(v.later)
	}},
	{name: "search by name", path: func(v *volumeRun) string {
		if !v.paged {
			return ""
		}
		return "/api/v1/visits/" + v.target + "/files?limit=100&q=" + url.QueryEscape("case-123")
	}},
	{name: "audit page", path: func(v *volumeRun) string { return "/visits/" + v.target + "/audit" }},
	{name: "audit CSV export, first byte", path: func(v *volumeRun) string { return "/api/v1/visits/" + v.target + "/audit?format=csv" }, firstByte: true},
	{name: "information request", path: func(v *volumeRun) string { return "/api/v1/visits/" + v.target + "/request" }},
	{name: "explain", admin: true, path: func(v *volumeRun) string { return "/visits/" + v.target + "/explain" }},
	{name: "sign-in callback", signIn: true, path: func(*volumeRun) string { return "/auth/ofsted/callback" }},
}

// volumeRun is one stack (one database) measured at growing volume.
type volumeRun struct {
	st          *benchStack
	seed        *seeder
	admin, lead *http.Client
	target      string
	paged       bool   // the file list answers with "next"
	later       string // the cursor of the file list's fifth page
	seedTimes   []string
	missed      bool      // the audit check failed
	checks      []float64 // machineCheck around each phase's timings, ms
}

// machineCheck times a fixed piece of CPU work (SHA-256 of 64 MiB, the
// fastest of three), so that a phase timed while the host was slow (this
// machine is a virtual one, whose host is shared) shows in the report
// rather than passing for the portal's own cost.
func machineCheck() float64 {
	buf := make([]byte, 1<<20)
	best := math.MaxFloat64
	for range 3 {
		t := time.Now()
		for range 64 {
			sha256.Sum256(buf)
		}
		best = min(best, float64(time.Since(t).Microseconds())/1000)
	}
	return best
}

// phases: the portal with the measured visit alone, at a tenth of the
// volume (the growth table's 1×) and at the volume (its 10×).
func volumePhases() []struct {
	name string
	plan volumePlan
} {
	scale := 1.0
	if f, err := strconv.ParseFloat(os.Getenv("BENCH_SCALE"), 64); err == nil && f > 0 {
		scale = f
	}
	return []struct {
		name string
		plan volumePlan
	}{
		// The measured visit alone, with the trail its 250 files would
		// have left (uploads, downloads, its members added): a page of
		// its audit trail is then a full page, as it is at volume.
		{"empty", volumePlan{visits: 1, people: 20, bigFiles: 250, audit: 500}},
		{"tenth", fullPlan.scaled(scale / 10)},
		{"volume", fullPlan.scaled(scale)},
	}
}

// volumeOn measures every route on two stacks whose metadata is in SQLite
// (the URLs "") or on PostgreSQL (two databases of one server): one
// holding the measured visit alone, the baseline, and one grown to a
// tenth of the volume and then to the volume. Each route's requests
// alternate between the two stacks, so that a moment when this shared
// host runs slow (or the database flushes what a seed wrote) weighs on
// both sides of a ratio alike: timed one phase after the other, minutes
// apart, the same request moved by half its time between runs.
func volumeOn(ctx context.Context, baseURL, dbURL string) (map[string][]latency, *volumeRun, error) {
	phases := volumePhases()
	base, err := newVolumeRun(ctx, baseURL)
	if base != nil {
		defer base.st.close()
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := newVolumeRun(ctx, dbURL)
	if v != nil {
		defer v.st.close()
	}
	if err != nil {
		return nil, nil, err
	}
	if err := base.grow(ctx, phases[0].name, phases[0].plan); err != nil {
		return nil, nil, err
	}
	if err := base.signIn(ctx); err != nil {
		return nil, nil, err
	}
	out := map[string][]latency{}
	for _, ph := range phases[1:] {
		if err := v.grow(ctx, ph.name, ph.plan); err != nil {
			return nil, nil, err
		}
		if err := v.signIn(ctx); err != nil {
			return nil, nil, err
		}
		// The baseline is the one timed beside this phase: the volume's
		// ratios are against the last.
		out[phases[0].name] = nil
		before := machineCheck()
		for _, r := range volumeRoutes {
			e, l, err := measurePair(ctx, r, base, v)
			if err != nil {
				return nil, nil, fmt.Errorf("%s (%s): %w", r.name, ph.name, err)
			}
			out[phases[0].name] = append(out[phases[0].name], e)
			out[ph.name] = append(out[ph.name], l)
			if ph.name == "volume" && !l.na && !r.signIn {
				v.profileRoute(ctx, r, dbURL == "")
			}
			if l.na {
				fmt.Printf("   %s, %s: n/a (not in this build)\n", ph.name, r.name)
			} else {
				fmt.Printf("   %s, %s: p50 %.1f ms, p99 %.1f ms, peak RSS %.0f MiB (beside the visit alone: p50 %.1f ms, p99 %.1f ms)\n",
					ph.name, r.name, l.p50, l.p99, l.peakRSS, e.p50, e.p99)
			}
		}
		v.checks = append(v.checks, max(before, machineCheck()))
		fmt.Printf("   %s: machine check %.0f ms\n", ph.name, v.checks[len(v.checks)-1])
	}
	v.seedTimes = append(base.seedTimes, v.seedTimes...)
	v.st.stopPortal() // it signs the head on the way out
	if err := v.verifyAudit(ctx); err != nil {
		return nil, nil, err
	}
	return out, v, nil
}

// newVolumeRun starts a stack on dbURL (SQLite when "") with the measured
// visit, and the seeder that grows it.
func newVolumeRun(ctx context.Context, dbURL string) (*volumeRun, error) {
	st, err := startStack(ctx, dbURL)
	if err != nil {
		if st != nil {
			st.close()
		}
		return nil, err
	}
	b := &bench{st: st}
	if err := b.createVisits(ctx, "VOLUME-1"); err != nil {
		return &volumeRun{st: st}, err
	}
	v := &volumeRun{st: st, target: b.visitIDs["VOLUME-1"]}
	master, err := crypto.LoadMasterKey(filepath.Join(st.dir, "master.key"))
	if err != nil {
		return v, err
	}
	v.seed = &seeder{master: master, seed: uint64(envInt("BENCH_SEED", 2026)), target: v.target, now: time.Now().UTC(),
		issuer: func(idp string) string { return st.idpURL + "/" + idp },
		epochKey: func(ctx context.Context, id string) ([]byte, error) {
			obj, err := st.raw.GetObject(ctx, "portal-key-epochs", "epochs/"+id+".age", minio.GetObjectOptions{})
			if err != nil {
				return nil, err
			}
			defer obj.Close()
			return io.ReadAll(obj)
		},
		makeBucket: func(ctx context.Context, name string) error {
			return st.raw.MakeBucket(ctx, name, minio.MakeBucketOptions{})
		}}
	return v, nil
}

// grow stops the portal, seeds the database up to plan and starts it again.
func (v *volumeRun) grow(ctx context.Context, phase string, plan volumePlan) error {
	v.st.stopPortal()
	s, err := v.st.openStore(ctx)
	if err != nil {
		return err
	}
	v.seed.st = s
	t := time.Now()
	err = v.seed.grow(ctx, plan)
	if err == nil {
		err = v.seed.checkpoint(ctx, filepath.Join(v.st.dir, "signing.key"))
	}
	s.Close()
	if err != nil {
		return fmt.Errorf("seed %s: %w", phase, err)
	}
	line := fmt.Sprintf("%s: %s; seeded in %s (%s)", phase, plan, time.Since(t).Round(100*time.Millisecond), strings.Join(v.seed.steps, ", "))
	v.seedTimes = append(v.seedTimes, line)
	fmt.Println("   " + line)
	return v.st.startPortal(ctx)
}

// checkpoint signs the chain's head, as the portal does on its schedule.
func (s *seeder) checkpoint(ctx context.Context, signingKey string) error {
	k, err := retention.LoadSigningKey(signingKey)
	if err != nil {
		return err
	}
	seq, hash, err := s.st.AuditHead(ctx)
	if err != nil || seq == 0 {
		return err
	}
	return s.st.AddCheckpoint(ctx, store.SignCheckpoint(seq, hash, time.Now(), k))
}

// verifyAudit runs the operator's check over the seeded trail. It reads
// the trail in pages of 5,000 records; should one statement outlast
// PostgreSQL's statement timeout (PORTAL_DB_STATEMENT_TIMEOUT, 30 s by default) the
// failure is reported as a miss and the check is run again with ten
// minutes, to tell a broken chain from a slow read.
func (v *volumeRun) verifyAudit(ctx context.Context) error {
	bin, err := devstack.FindTool("portal", "")
	if err != nil {
		return err
	}
	for _, extra := range [][]string{nil, {"PORTAL_DB_STATEMENT_TIMEOUT=10m"}} {
		t := time.Now()
		cmd := exec.CommandContext(ctx, bin, "audit", "verify")
		cmd.Env = append(append(os.Environ(), v.st.env...), extra...)
		out, err := cmd.CombinedOutput()
		with := ""
		if extra != nil {
			with = " (with " + extra[0] + ")"
		}
		line := fmt.Sprintf("portal audit verify%s accepted the seeded trail in %s: %s", with, time.Since(t).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
		if err != nil {
			line = fmt.Sprintf("MISS: portal audit verify%s failed after %s: %v: %s", with, time.Since(t).Round(100*time.Millisecond), err, strings.TrimSpace(string(out)))
			v.missed = true
		}
		v.seedTimes = append(v.seedTimes, line)
		fmt.Println("   " + line)
		if err == nil {
			return nil
		}
	}
	return nil
}

func (v *volumeRun) signIn(ctx context.Context) error {
	var err error
	if v.admin, err = devstack.SignIn(ctx, v.st.portalURL, "ofsted", "admin@ofsted.example", devidp.DemoPassword); err != nil {
		return err
	}
	if v.lead, err = devstack.SignIn(ctx, v.st.portalURL, "ofsted", "lead@ofsted.example", devidp.DemoPassword); err != nil {
		return err
	}
	// Find the fifth page's cursor, when the file list pages.
	v.paged, v.later = false, ""
	cursor := ""
	for page := 0; page < 4; page++ {
		var l struct {
			Next *string `json:"next"`
		}
		u := v.st.portalURL + "/api/v1/visits/" + v.target + "/files?limit=100"
		if cursor != "" {
			u += "&after=" + url.QueryEscape(cursor)
		}
		if err := call(v.lead, "GET", u, "", 200, &l); err != nil {
			return err
		}
		if l.Next == nil || *l.Next == "" {
			break
		}
		v.paged, cursor = true, *l.Next
		v.later = cursor
	}
	return nil
}

// measurePair times n requests of a route on each of two stacks, after
// ten each to warm up, alternating between them and which goes first; a
// route that takes over a second is timed five times. The requests take a
// few milliseconds, so one busy moment of the machine moves a p50 of fifty
// by as much as the ratio's whole margin: two hundred hold it steady, and
// give the p99 two samples above it rather than none.
func measurePair(ctx context.Context, r route, a, b *volumeRun) (latency, latency, error) {
	pa, pb := r.path(a), r.path(b)
	if pa == "" || pb == "" {
		return latency{na: true}, latency{na: true}, nil
	}
	runs := [2]*volumeRun{a, b}
	paths := [2]string{pa, pb}
	one := func(i int) (float64, error) {
		v, path := runs[i], paths[i]
		if r.signIn {
			return timedCallback(ctx, v.st.portalURL)
		}
		c := v.lead
		if r.admin {
			c = v.admin
		}
		t := time.Now()
		resp, err := c.Get(v.st.portalURL + path)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return 0, fmt.Errorf("GET %s: %d %.200s", path, resp.StatusCode, b)
		}
		if r.firstByte {
			_, err = resp.Body.Read(make([]byte, 1))
		} else {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		return float64(time.Since(t).Microseconds()) / 1000, nil
	}
	slow := false
	for k := range 20 {
		ms, err := one(k % 2)
		if err != nil {
			return latency{}, latency{}, err
		}
		slow = slow || ms > 1000
	}
	n := envInt("BENCH_LATENCY_N", 200)
	if r.signIn {
		n = min(n, 50)
	}
	if slow {
		n = 5
	}
	for _, v := range runs {
		if err := v.st.resetPeakRSS(); err != nil {
			return latency{}, latency{}, err
		}
	}
	ms, err := alternate(n, one)
	if err != nil {
		return latency{}, latency{}, err
	}
	var out [2]latency
	for i, v := range runs {
		peak, err := v.st.peakRSS()
		if err != nil {
			return latency{}, latency{}, err
		}
		slices.Sort(ms[i])
		out[i] = latency{p50: ms[i][len(ms[i])/2], p99: ms[i][min(len(ms[i])-1, len(ms[i])*99/100)], peakRSS: float64(peak) / (1 << 20)}
	}
	return out[0], out[1], nil
}

// alternate takes n timings from each of two sides, one of each in turn,
// the first side going first in one round and second in the next, so that
// neither always follows the other (and finds its caches as the other left
// them).
func alternate(n int, one func(side int) (float64, error)) ([2][]float64, error) {
	var ms [2][]float64
	for k := range n {
		for _, i := range [2][2]int{{0, 1}, {1, 0}}[k%2] {
			x, err := one(i)
			if err != nil {
				return ms, err
			}
			ms[i] = append(ms[i], x)
		}
	}
	return ms, nil
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenID   = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// timedCallback signs the lead inspector in through the dev identity
// provider's form and times only the portal's callback: the code
// exchange, the user and memberships written, the session made.
func timedCallback(ctx context.Context, portalURL string) (float64, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), portalURL+"/auth/ofsted/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, portalURL+"/auth/ofsted/login", nil)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a, id := formAction.FindSubmatch(page), hiddenID.FindSubmatch(page)
	if a == nil || id == nil {
		return 0, fmt.Errorf("sign-in: no login form at %s", resp.Request.URL)
	}
	target, err := resp.Request.URL.Parse(string(a[1]))
	if err != nil {
		return 0, err
	}
	resp, err = c.PostForm(target.String(), url.Values{"id": {string(id[1])}, "username": {"lead@ofsted.example"}, "password": {devidp.DemoPassword}})
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	cb, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(cb.String(), portalURL+"/auth/ofsted/callback") {
		return 0, fmt.Errorf("sign-in: the provider sent %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t := time.Now()
	resp, err = c.Get(cb.String())
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || !strings.HasSuffix(resp.Header.Get("Location"), "/visits") {
		return 0, fmt.Errorf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return float64(time.Since(t).Microseconds()) / 1000, nil
}

// profileRoute, with BENCH_PROFILE=1, takes a CPU profile of the portal
// while it answers r again and again for three seconds, into
// bench/volume-<database>-<route>.pprof.
func (v *volumeRun) profileRoute(ctx context.Context, r route, sqlite bool) {
	if v.st.pprofAddr == "" {
		return
	}
	db := "postgres"
	if sqlite {
		db = "sqlite"
	}
	name := "volume-" + db + "-" + strings.Trim(regexp.MustCompile(`[^a-z]+`).ReplaceAllString(r.name, "-"), "-")
	b := &bench{st: v.st}
	wait := b.captureProfile(name, 3*time.Second)
	c := v.lead
	if r.admin {
		c = v.admin
	}
	for end := time.Now().Add(3500 * time.Millisecond); time.Now().Before(end); {
		resp, err := c.Get(v.st.portalURL + r.path(v))
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	wait()
}
