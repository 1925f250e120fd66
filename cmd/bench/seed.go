package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// The volume seed: a year of visits written through the store in bulk
// (store.Seed*), not through HTTP one act at a time. Every row derives
// from (seed, kind, index), so a plan seeded in steps (the bench's 0.1×
// then 1×) holds exactly the rows it would hold seeded at once. Visit keys
// are the exception: they come from crypto/rand, as the domain's do, and
// only the ciphertexts differ between runs. No S3 objects are written for
// the seeded files: the volume cases measure metadata requests, and the
// cases that download do so from files they upload.

// volumePlan is how much a portal holds.
type volumePlan struct {
	visits   int // including the measured visit; every other one destroyed
	people   int
	bigFiles int // files in the measured visit
	audit    int // audit records
}

// fullPlan is the volume: 1,000 visits, 300 people, 200,000 files
// (20,000 in one visit, 360 or 361 in each other live visit), 2,000,000
// audit records. BENCH_SCALE multiplies it.
var fullPlan = volumePlan{visits: 1000, people: 300, bigFiles: 20000, audit: 2_000_000}

// otherFiles is the files of a live visit other than the measured one:
// 180,000 over the full plan's 499.
func otherFiles(live int) int {
	if live < 180000%499 {
		return 180000/499 + 1
	}
	return 180000 / 499
}

func (p volumePlan) scaled(f float64) volumePlan {
	return volumePlan{visits: max(1, int(float64(p.visits)*f)), people: max(20, int(float64(p.people)*f)), bigFiles: max(250, int(float64(p.bigFiles)*f)), audit: int(float64(p.audit) * f)}
}

func (p volumePlan) files() int {
	n := p.bigFiles
	for i := 2; i < p.visits; i += 2 {
		n += otherFiles(i/2 - 1)
	}
	return n
}

func (p volumePlan) String() string {
	return fmt.Sprintf("visits %d (%d destroyed), people %d, files %d (%d in the measured visit), audit records %d",
		p.visits, p.visits/2, p.people, p.files(), p.bigFiles, p.audit)
}

// seeder grows one portal's database from the plan it holds to a larger one.
type seeder struct {
	st     *store.Store
	master *crypto.MasterKey
	seed   uint64
	issuer func(idp string) string // the dev identity provider's issuer for idp
	target string                  // the measured visit, created through the portal
	// epochKey reads a key epoch's wrapped key from the portal's key
	// bucket: the measured visit's key is wrapped to one.
	epochKey func(ctx context.Context, id string) ([]byte, error)
	// makeBucket creates a live visit's bucket (nil: none, in tests): the
	// portal refuses to serve a live visit whose bucket is gone, as a
	// restore that missed a destruction would leave it.
	makeBucket func(ctx context.Context, name string) error
	have       volumePlan
	keys       map[string]*crypto.VisitKey
	// wrapper and epoch are what the measured visit's key is wrapped to,
	// as the portal wraps every new key: the seeded keys are wrapped alike.
	wrapper *crypto.MasterKey
	epoch   string
	steps   []string // how long each part of the last grow took
	cal     *calendar.Calendar
	now     time.Time
}

func (s *seeder) rng(kind string, i int) *rand.Rand {
	var h uint64 = 14695981039346656037
	for _, c := range []byte(kind) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return rand.New(rand.NewPCG(s.seed^h, uint64(i)))
}

func (s *seeder) id(kind string, i int) string {
	var b [16]byte
	r := s.rng(kind+"-id", i)
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	return hex.EncodeToString(b[:])
}

func (s *seeder) visitID(i int) string {
	if i == 0 {
		return s.target
	}
	return s.id("visit", i)
}

// person p: the first third work for the provider, the rest for the
// inspectorate.
func (s *seeder) person(p int) store.User {
	idp, org := "ofsted", "ofsted"
	if p%3 == 0 {
		idp, org = "cafcass", "cafcass"
	}
	return store.User{ID: s.id("user", p), Issuer: s.issuer(idp), Subject: fmt.Sprintf("seed-%d", p),
		Email: fmt.Sprintf("person-%d@%s.example", p, org), Name: fmt.Sprintf("Person %d", p), CreatedAt: s.now.AddDate(-1, 0, 0)}
}

func (s *seeder) grow(ctx context.Context, to volumePlan) error {
	if s.keys == nil {
		s.keys = map[string]*crypto.VisitKey{}
		s.cal, _ = calendar.New()
		wk, err := s.st.WrappedKey(ctx, s.target)
		if err != nil {
			return err
		}
		wrapper := s.master
		if wk.Epoch != "" {
			w, err := s.epochKey(ctx, wk.Epoch)
			if err != nil {
				return err
			}
			if wrapper, err = s.master.UnwrapEpoch(w); err != nil {
				return err
			}
		}
		if s.keys[s.target], err = wrapper.UnwrapFor(wk.Wrapped, s.target); err != nil {
			return err
		}
		s.wrapper, s.epoch = wrapper, wk.Epoch
	}
	s.steps = nil
	t := time.Now()
	lap := func(what string) {
		s.steps = append(s.steps, fmt.Sprintf("%s %s", what, time.Since(t).Round(100*time.Millisecond)))
		t = time.Now()
	}
	var users []store.User
	for p := s.have.people; p < to.people; p++ {
		users = append(users, s.person(p))
	}
	if err := s.st.SeedUsers(ctx, users); err != nil {
		return err
	}
	s.have.people = max(s.have.people, to.people)
	var destroyed []string
	var members []store.Member
	var events []store.Event
	var notices []store.Notice
	var failed []store.Notice // the failed destructions' visits
	holds := map[string]store.LegalHold{}
	for i := max(1, s.have.visits); i < to.visits; i++ {
		v, err := s.createVisit(ctx, i)
		if err != nil {
			return err
		}
		members = append(members, s.members(i)...)
		if i%2 == 1 {
			destroyed = append(destroyed, s.visitID(i))
			continue
		}
		evs, notice, hold, fails := s.letters(i, v)
		events = append(events, evs...)
		if notice != nil {
			notices = append(notices, *notice)
		}
		if fails {
			failed = append(failed, *notice)
		}
		if hold != nil {
			holds[v.ID] = *hold
		}
		if s.makeBucket != nil {
			if err := s.makeBucket(ctx, "portal-visit-"+s.visitID(i)); err != nil {
				return err
			}
		}
	}
	lap("visits (keys, rows)")
	if err := s.st.SeedMembers(ctx, members); err != nil {
		return err
	}
	lap("members")
	if err := s.st.SeedLetters(ctx, events, notices, holds); err != nil {
		return err
	}
	// Each event with its record in the visit's trail, as recording it
	// leaves it: the retention run holds the events to the trail before
	// it gives a notice or destroys.
	letterRecs := make([]store.AuditRecord, len(events))
	for i, e := range events {
		letterRecs[i] = store.AuditRecord{Time: e.RecordedAt, ActorSubject: "seed", VisitID: e.VisitID, Action: "letter." + e.Event, Outcome: "success",
			Detail: `{"date":"` + e.Date.Format(time.DateOnly) + `"}`, ClientIP: "192.0.2.1", UserAgent: "seed"}
	}
	if _, _, err := s.st.SeedAudit(ctx, letterRecs); err != nil {
		return err
	}
	s.have.audit += len(letterRecs) // of the plan's records, the rest made below
	// A failed destruction is recorded as the sweep records one: a first
	// failure on the day it was due, the last a minute before the seed,
	// tried again an hour after it (the longest back-off), when the
	// bench is over.
	for _, n := range failed {
		for _, at := range []time.Time{calendar.StartOfDay(n.DestroyOn).Add(2 * time.Hour), s.now.Add(-time.Minute)} {
			if _, err := s.st.RecordFailure(ctx, n.VisitID, failureReason, at, func(int) time.Time { return at.Add(time.Hour) }); err != nil {
				return err
			}
		}
	}
	lap(fmt.Sprintf("letters (%d events, %d notices, %d holds, %d failed destructions)", len(events), len(notices), len(holds), len(failed)))
	var files []store.SeededFile
	for i := max(2, s.have.visits+s.have.visits%2); i < to.visits; i += 2 {
		files = append(files, s.files(i, 0, otherFiles(i/2-1))...)
	}
	files = append(files, s.files(0, max(s.have.bigFiles, 0), to.bigFiles)...)
	lap("files (names sealed)")
	if err := s.st.SeedFiles(ctx, files); err != nil {
		return err
	}
	lap("files (rows)")
	if err := s.st.SeedDestroyed(ctx, destroyed, s.now.AddDate(0, -1, 0)); err != nil {
		return err
	}
	lap("destroyed visits")
	s.have.visits, s.have.bigFiles = max(s.have.visits, to.visits), max(s.have.bigFiles, to.bigFiles)
	for from := s.have.audit; from < to.audit; from += 100000 {
		if _, _, err := s.st.SeedAudit(ctx, s.auditRecords(from, min(to.audit, from+100000), to)); err != nil {
			return err
		}
	}
	s.have.audit = max(s.have.audit, to.audit)
	lap("audit records (chained)")
	if s.st.Postgres() {
		// PostgreSQL plans from table statistics, which autovacuum brings
		// up to date some time after a table grows; a bulk seed timed at
		// once would measure plans made for the empty tables.
		if _, err := s.st.DB().Exec("ANALYZE"); err != nil {
			return err
		}
		lap("statistics (ANALYZE)")
	}
	return nil
}

// createVisit creates visit i through the store, as the domain does: its
// key wrapped to the key epoch the measured visit's is, bound to the visit
// (the portal refuses a key wrapped to the master key once epochs have
// begun), its title sealed, the default item restriction, the Annex A
// request and three case files asked for.
// seedRetentionDays is the retention period each seeded visit keeps: the
// portal's default.
const seedRetentionDays = 30

func (s *seeder) createVisit(ctx context.Context, i int) (store.Visit, error) {
	r := s.rng("visit", i)
	nd := calendar.Date(s.now.AddDate(0, 0, -r.IntN(400)).Date())
	if !s.cal.IsWorkingDay(nd) {
		nd = s.cal.PreviousWorkingDay(nd)
	}
	key, err := crypto.NewVisitKey()
	if err != nil {
		return store.Visit{}, err
	}
	id := s.visitID(i)
	wrapped, err := s.wrapper.WrapFor(key, id)
	if err != nil {
		return store.Visit{}, err
	}
	s.keys[id] = key
	v := store.Visit{ID: id, Reference: fmt.Sprintf("SEED-%04d", i), TitleSealed: key.Seal([]byte(fmt.Sprintf("Focused visit %d", i)), "visit-title:"+id),
		Provider: "Cafcass", RetentionDays: seedRetentionDays, NotificationDate: nd, FieldworkStart: s.cal.AddWorkingDays(nd, 5), State: portal.StateActive,
		Bucket: "portal-visit-" + id, CreatedAt: nd, CreatedBy: s.id("user", 1)}
	request := []store.RequestItem{}
	for n, t := range []struct{ code, kind, title, due string }{
		{portal.ItemChildLevelData, portal.KindDataList, "Child-level data", "data_lists_due"},
		{portal.ItemAuditedCases, portal.KindDataList, "Recently audited cases", "data_lists_due"},
		{"1.01", portal.KindAnnexA, "Organisational structure", "annex_a_due"}, {"1.02", portal.KindAnnexA, "Case allocation policy", "annex_a_due"},
		{"1.03", portal.KindAnnexA, "Management information", "annex_a_due"}, {"1.04", portal.KindAnnexA, "Feedback and complaints", "annex_a_due"},
		{"1.05", portal.KindAnnexA, "Self-evaluations", "annex_a_due"},
		{"case-1", portal.KindCaseFile, "Case file: child A", "fieldwork_start"}, {"case-2", portal.KindCaseFile, "Case file: child B", "fieldwork_start"},
		{"case-3", portal.KindCaseFile, "Case file: child C", "fieldwork_start"},
	} {
		request = append(request, store.RequestItem{VisitID: id, Code: t.code, Kind: t.kind, Due: t.due, Position: n, AddedBy: v.CreatedBy,
			TitleSealed: key.Seal([]byte(t.title), "request-item:"+id+":"+t.code)})
	}
	return v, s.st.CreateVisit(ctx, v, store.VisitKey{VisitID: id, Wrapped: wrapped, Epoch: s.epoch, Fingerprint: key.Fingerprint(), HeaderSize: key.HeaderSize(), CreatedAt: nd},
		[]store.Restriction{{VisitID: id, Code: portal.ItemChildLevelData, Restricted: true, Roles: policy.ChildLevelDataRoles}}, request)
}

// failureReason is a seeded failed destruction's: the store refused the
// inventory of the visit's objects, which the sweep takes before it
// begins (so the visit is still active, its key and objects whole).
const failureReason = "retention: list objects of the visit's bucket: 503 Service Unavailable"

// letters is the letter history of live visit v (i), by how long ago its
// fieldwork started, so that the live visits stand in every state a visit
// passes through: none yet (collecting, fieldwork, drafting); the draft
// sent, then the final letter; published within the retention period,
// under a destruction notice in its last week; and, where a visit that
// old would have been destroyed had nothing stopped it, a complaint still
// open, published under a legal hold (after a complaint resolved, or
// none), or (one in fifty) published, noticed and due, its destruction
// failed (fails) and waiting to be tried again. Every history is one
// retention.Check accepts, dated after fieldwork, and none but the failed
// is due for destruction, so the portal's own retention run leaves the
// seed as it is while the bench times it.
func (s *seeder) letters(i int, v store.Visit) (evs []store.Event, notice *store.Notice, hold *store.LegalHold, fails bool) {
	r := s.rng("letters", i)
	today := calendar.Date(s.now.Date())
	age := int(today.Sub(v.FieldworkStart).Hours() / 24)
	add := func(event string, day int) {
		d := v.FieldworkStart.AddDate(0, 0, day)
		evs = append(evs, store.Event{ID: s.id(fmt.Sprintf("event-%d", i), len(evs)), VisitID: v.ID, Event: event, Date: d,
			RecordedBy: v.CreatedBy, RecordedAt: d.Add(10 * time.Hour)})
	}
	const retentionDays, noticeDays = seedRetentionDays, 7 // the portal's defaults
	held := func(reason string, day int) *store.LegalHold {
		return &store.LegalHold{On: true, ReasonSealed: s.keys[v.ID].Seal([]byte(reason), "legal-hold:"+v.ID), At: v.FieldworkStart.AddDate(0, 0, day).Add(9 * time.Hour)}
	}
	destroyOn := v.FieldworkStart.AddDate(0, 0, 40+retentionDays)
	noticed := &store.Notice{VisitID: v.ID, DestroyOn: destroyOn, GivenAt: destroyOn.AddDate(0, 0, -noticeDays).Add(6 * time.Hour)}
	switch {
	case age < 20:
		return nil, nil, nil, false
	case age < 30:
		add(retention.DraftSent, 20)
		return evs, nil, nil, false
	}
	add(retention.DraftSent, 20)
	// Fourteen days before publication: at least five working days
	// between, whatever the bank holidays, so that Cafcass's time to
	// complain has ended when the letter is published.
	add(retention.FinalSent, 26)
	switch {
	case age < 40:
		return evs, nil, nil, false
	case age < 40+retentionDays:
		add(retention.Published, 40)
		if days := int(destroyOn.Sub(today).Hours() / 24); days <= noticeDays {
			return evs, noticed, nil, false
		}
		return evs, nil, nil, false
	}
	if r.IntN(50) == 0 {
		add(retention.Published, 40)
		return evs, noticed, nil, true
	}
	switch r.IntN(3) {
	case 0:
		add(retention.ComplaintReceived, 28)
		return evs, nil, nil, false
	case 1:
		add(retention.ComplaintReceived, 28)
		add(retention.ComplaintResolved, 38)
		add(retention.Published, 40)
		return evs, nil, held("Complaint escalated to the review panel", 41), false
	default:
		add(retention.Published, 40)
		return evs, nil, held("Subject access request outstanding", 45), false
	}
}

var inspectorRoles = []string{policy.RoleLeadInspector, policy.RoleInspector, policy.RoleInspector, policy.RoleQAManager, policy.RoleAnalyst}

// members of visit i: 6 to 10 people, bound; on every tenth visit the demo
// lead inspector too, by email (bound at their next sign-in), so that a
// member's visit list holds a tenth of the visits.
func (s *seeder) members(i int) []store.Member {
	r := s.rng("members", i)
	n, first := 6+r.IntN(5), r.IntN(s.have.people)
	var out []store.Member
	for k := range n {
		p := s.person((first + k) % s.have.people)
		role := inspectorRoles[k%len(inspectorRoles)]
		if strings.HasSuffix(p.Email, "@cafcass.example") {
			role = []string{policy.RoleProviderCoordinator, policy.RoleProviderUploader}[k%2]
		}
		out = append(out, store.Member{ID: s.id(fmt.Sprintf("member-%d", i), k), VisitID: s.visitID(i), Role: role, Email: p.Email, Issuer: p.Issuer,
			Subject: p.Subject, UserID: p.ID, CreatedAt: s.now, UpdatedAt: s.now})
	}
	if i%10 == 0 {
		out = append(out, store.Member{ID: s.id(fmt.Sprintf("member-%d", i), 99), VisitID: s.visitID(i), Role: policy.RoleLeadInspector, Email: "lead@ofsted.example", Issuer: s.issuer("ofsted"),
			CreatedAt: s.now, UpdatedAt: s.now})
	}
	return out
}

// files from..to of visit i, named "case-<n> notes.pdf" (natural order and
// search by name have digits to get right), over the Annex A items.
func (s *seeder) files(i, from, to int) []store.SeededFile {
	id, key := s.visitID(i), s.keys[s.visitID(i)]
	out := make([]store.SeededFile, 0, max(0, to-from))
	for j := from; j < to; j++ {
		r := s.rng("file-"+id, j)
		fid, name := s.id("file-"+id, j), fmt.Sprintf("case-%d notes.pdf", j+1)
		sum := make([]byte, 32)
		for k := range 4 {
			binary.LittleEndian.PutUint64(sum[k*8:], r.Uint64())
		}
		item := fmt.Sprintf("1.0%d", j%5+1)
		// The MAC of its one segment, as an upload records it (no draw
		// from r: the other values stay those of earlier seeds).
		mac := sha256.Sum256(sum)
		out = append(out, store.SeededFile{File: store.File{ID: fid, VisitID: id, NameSealed: key.Seal([]byte(name), evidence.NameContext(id, fid)), Item: item,
			Size: 10<<10 + r.Int64N(1<<20), SHA256: hex.EncodeToString(sum), SegmentSize: 32 << 20, Segments: 1, HeaderSize: key.HeaderSize(), SegmentMACs: mac[:],
			UploadedBy: s.person(3 * r.IntN(s.have.people/3)).ID, UploadedAt: s.now.Add(-time.Duration(to-j) * time.Minute)},
			NameIndex: key.NameIndex(portal.NameKey(name))})
	}
	return out
}

var auditActions = []string{"file.download", "file.download", "file.download", "file.uploaded", "visit.viewed", "request.item_added", "member.added", "file.refiled"}

// auditRecords from..to, over a year up to now, spread over the plan's
// visits (one in twenty is portal-wide).
func (s *seeder) auditRecords(from, to int, p volumePlan) []store.AuditRecord {
	out := make([]store.AuditRecord, 0, to-from)
	start := s.now.AddDate(-1, 0, 0)
	step := time.Duration(int64(365*24*time.Hour) / int64(max(1, fullPlan.audit)))
	for n := from; n < to; n++ {
		r := s.rng("audit", n)
		actor := s.person(r.IntN(p.people))
		visit := ""
		if r.IntN(20) > 0 {
			visit = s.visitID(r.IntN(p.visits))
		}
		out = append(out, store.AuditRecord{Time: start.Add(time.Duration(n) * step), ActorIssuer: actor.Issuer, ActorSubject: actor.Subject,
			ActorEmail: actor.Email, Role: "inspector", VisitID: visit, Action: auditActions[r.IntN(len(auditActions))], Object: s.id("object", n),
			Outcome: "success", Detail: `{"seed":true}`, ClientIP: "192.0.2.1", UserAgent: "seed", RequestID: s.id("request", n)})
	}
	return out
}
