package portal

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Access is one actor's standing on one visit (and file) right now: the
// visit, its status computed once, the actor's membership and window, and
// the decisions made so far. Operations on a visit are methods of Access;
// each asks policy for its own action before it acts.
type Access struct {
	svc      *Service
	Actor    Actor
	Visit    store.Visit
	Status   Status
	Member   store.Member
	Window   Window          // the member's, when a member
	File     store.File      // the file named, when one was
	Decision policy.Decision // the decision Authorize made

	decided map[decisionKey]policy.Decision
	// at is when Authorize took the request's decision, on action and
	// fileID (zero for an Access loaded with a list: fresh leaves it).
	at     time.Time
	action policy.Action
	fileID string
	// keyFingerprint is the visit's live key's, read with the visit
	// ("" once destroyed), when keyRead: its key is then found without a
	// statement more (key).
	keyFingerprint string
	keyRead        bool
	// restrictions are the visit's item restrictions, loaded once (one
	// statement) the first time a file is decided on.
	restrictions map[string]store.Restriction
	// invited: an administrator with no membership of the visit has
	// been added to it by email, to bind at their next sign-in.
	invited bool
	// allowedBy are the policies that allowed the act last required:
	// its record names the authority it was done under (rec).
	allowedBy []string
}

// restriction is the restriction of one item of the visit, matched by
// itemKey: a file or a restriction stored with another form of the item's
// number still meets the other. Should two stored forms meet, the more
// restrictive holds.
func (acc *Access) restriction(ctx context.Context, item string) (store.Restriction, error) {
	if acc.restrictions == nil {
		rs, err := acc.svc.store.Restrictions(ctx, acc.Visit.ID)
		if err != nil {
			return store.Restriction{}, err
		}
		acc.restrictions = make(map[string]store.Restriction, len(rs))
		for _, r := range rs {
			k := itemKey(r.Code)
			if prev, ok := acc.restrictions[k]; ok {
				r = stricter(prev, r)
			}
			acc.restrictions[k] = r
		}
	}
	if r, ok := acc.restrictions[itemKey(item)]; ok {
		return r, nil
	}
	return store.Restriction{VisitID: acc.Visit.ID, Code: item}, nil
}

// restrictionOf is item's restriction among rs, the visit's stored
// ones, matched by itemKey; the more restrictive where two stored forms
// meet; unrestricted where none does.
func restrictionOf(rs []store.Restriction, visitID, item string) store.Restriction {
	out, found, k := store.Restriction{VisitID: visitID, Code: item}, false, itemKey(item)
	for _, r := range rs {
		switch {
		case itemKey(r.Code) != k:
		case found:
			out = stricter(out, r)
		default:
			out, found = r, true
		}
	}
	return out
}

// stricter is the restriction of two stored for one item that lets fewer
// see it: restricted over not, and of two restricted, the roles both name.
func stricter(a, b store.Restriction) store.Restriction {
	switch {
	case !a.Restricted:
		return b
	case !b.Restricted:
		return a
	}
	var roles []string
	for _, r := range a.Roles {
		if slices.Contains(b.Roles, r) {
			roles = append(roles, r)
		}
	}
	a.Roles = roles
	return a
}

type decisionKey struct {
	action policy.Action
	file   string // file id; "" for the visit itself
}

// Authorize establishes who is acting on which visit and file, and decides
// action for them. A refusal is recorded in the audit trail (when someone
// is signed in) and returned as an *Error: not signed in, not found (also
// for a visit that is not theirs to know of), gone, locked (with the reason
// and when it opens) or forbidden. The Access is returned even on refusal,
// for the door's logs.
func (s *Service) Authorize(ctx context.Context, a Actor, action policy.Action, visitID, fileID string) (*Access, error) {
	acc := &Access{svc: s, Actor: a, decided: map[decisionKey]policy.Decision{}, at: s.now(), action: action, fileID: fileID}
	if visitID != "" && !IsID(visitID) || fileID != "" && !IsID(fileID) {
		return acc, errNotFound // not an id the portal could have made
	}
	if a.known() && visitID != "" {
		if err := s.load(ctx, acc, visitID, fileID, action == policy.FilePurge); err != nil {
			return acc, err
		}
	}
	var file *store.File
	if acc.File.ID != "" {
		file = &acc.File
	}
	d, err := acc.decide(ctx, action, file)
	if err != nil {
		return acc, err
	}
	acc.Decision = d
	if !d.Allow {
		return acc, acc.refuse(ctx, action, fileID, d)
	}
	s.log.Debug("allowed", "request_id", a.RequestID, "user", a.UserID, "action", string(action), "policies", d.Policies)
	return acc, nil
}

// key is the visit's key, checked against the fingerprint read with the
// visit when it was (Keyring.KeyWithFingerprint), else read now.
func (acc *Access) key(ctx context.Context) (*crypto.VisitKey, error) {
	if acc.keyRead {
		return acc.svc.keys.KeyWithFingerprint(ctx, acc.Visit.ID, acc.keyFingerprint)
	}
	return acc.svc.keys.Key(ctx, acc.Visit.ID)
}

// accessOf is the actor's access to a visit loaded with a page of them
// (store.VisitRow): the same as Authorize's, without a statement more.
func (s *Service) accessOf(a Actor, r store.VisitRow) *Access {
	acc := &Access{svc: s, Actor: a, decided: map[decisionKey]policy.Decision{}, Visit: r.Visit, Status: s.statusOf(r),
		keyFingerprint: r.KeyFingerprint, keyRead: true}
	ms := r.Memberships
	if len(ms) == 0 && r.Member != nil {
		ms = []store.Member{*r.Member}
	}
	// Two that differ give none here: the visit's own page says why.
	if m, _ := s.membershipOf(a, r.Visit, ms); m.Role != "" {
		acc.Member = m
		acc.Window = s.memberWindow(acc.Visit, acc.Status, acc.Member)
	}
	return acc
}

// load fills in the visit as it stands now, the actor's membership and
// window, and the file named.
func (s *Service) load(ctx context.Context, acc *Access, visitID, fileID string, purge bool) error {
	r, err := s.store.VisitWithHold(ctx, visitID)
	if err != nil {
		return err // not found is 404 for everyone
	}
	acc.Visit, acc.keyFingerprint, acc.keyRead = r.Visit, r.KeyFingerprint, true
	if acc.Status, err = s.statusWithHold(ctx, r); err != nil {
		return err
	}
	if acc.Actor.UserID != "" {
		ms, err := s.store.MembershipsOf(ctx, visitID, acc.Actor.UserID)
		if err != nil {
			return err
		}
		if acc.Member, err = s.membershipOf(acc.Actor, acc.Visit, ms); err != nil {
			return acc.refuseDuplicate(ctx, ms, err)
		}
	}
	if acc.Member.Role != "" {
		acc.Window = s.memberWindow(acc.Visit, acc.Status, acc.Member)
	} else if acc.Actor.Administrator && acc.Actor.Email != "" {
		// Added by email since they signed in, or a member under another
		// identity with the same address: a part in the visit already,
		// for the acts kept for administrators with none.
		if acc.invited, err = s.store.Invited(ctx, visitID, strings.ToLower(acc.Actor.Email)); err != nil {
			return err
		}
	}
	if fileID != "" {
		// A purge is by an administrator from outside the visit: the one
		// action on a file a non-member is decided on.
		outsider := acc.Member.Role == "" && !(purge && acc.Actor.Administrator)
		if outsider || acc.Visit.State == StateDestroying || acc.Visit.State == StateDestroyed {
			// Not a member, or nothing left: policy answers (404 or 410).
			return nil
		}
		if acc.File, err = s.store.File(ctx, visitID, fileID); err != nil {
			return err
		}
	}
	return nil
}

// principal describes the actor for policy.
func (acc *Access) principal() policy.Principal {
	p := policy.Principal{UserID: acc.Actor.principalID(), Administrator: acc.Actor.Administrator, Role: acc.Member.Role, Invited: acc.invited}
	if p.Role != "" {
		p.InWindow = acc.Window.Contains(acc.svc.now())
	}
	return p
}

// resource describes the visit (and file, if any) for policy.
func (acc *Access) resource(ctx context.Context, f *store.File) (policy.Resource, error) {
	if acc.Visit.ID == "" {
		return policy.Resource{}, nil
	}
	r := policy.Resource{VisitID: acc.Visit.ID, VisitState: acc.Status.State, AcceptsUploads: acc.Status.AcceptsUploads, LegalHold: acc.Status.LegalHold}
	if f != nil && f.ID != "" {
		rs, err := acc.restriction(ctx, f.Item)
		if err != nil {
			return r, err
		}
		r.File = &policy.File{ID: f.ID, UploadedBy: f.UploadedBy, Item: f.Item, Restricted: rs.Restricted, Roles: rs.Roles, Scan: f.Scan}
	}
	return r, nil
}

// decide asks policy once per action and file.
func (acc *Access) decide(ctx context.Context, action policy.Action, f *store.File) (policy.Decision, error) {
	k := decisionKey{action: action}
	if f != nil {
		k.file = f.ID
	}
	if d, ok := acc.decided[k]; ok {
		return d, nil
	}
	res, err := acc.resource(ctx, f)
	if err != nil {
		return policy.Decision{}, err
	}
	d := acc.svc.policy.Decide(acc.principal(), action, res)
	acc.decided[k] = d
	first := ""
	if len(d.Policies) > 0 {
		first = d.Policies[0]
	}
	acc.svc.metrics.Decision(d.Allow, first)
	return d, nil
}

// Can reports whether the actor may do action on the visit, without
// recording anything (pages use it to offer only what works). An error
// while deciding is a no.
func (acc *Access) Can(ctx context.Context, action policy.Action) bool {
	d, err := acc.decide(ctx, action, nil)
	return err == nil && d.Allow
}

// require decides action (on f, when given) and refuses as Authorize does.
func (acc *Access) require(ctx context.Context, action policy.Action, f *store.File) error {
	if err := acc.fresh(ctx); err != nil {
		return err
	}
	d, err := acc.decide(ctx, action, f)
	if err != nil {
		return err
	}
	acc.allowedBy = nil
	if d.Allow {
		acc.allowedBy = d.Policies
		return nil
	}
	object := ""
	if f != nil {
		object = f.ID
	}
	return acc.refuse(ctx, action, object, d)
}

// decidedAt is when the decisions this Access holds were taken, from which
// a long act counts recheckAfter: Authorize's (or fresh's) time, or now
// for an Access loaded with a list (fresh leaves it).
func (acc *Access) decidedAt() time.Time {
	if acc.at.IsZero() {
		return acc.svc.now()
	}
	return acc.at
}

// fresh takes the request's decision again (Authorize's, on the person,
// visit and file as they now stand) once it is older than recheckAfter,
// before an act: a request's body can come long after its decision (a
// form or JSON sent slowly, the next file of a multipart upload after a
// large one), and what it does is decided on access as it is when it
// acts. A refusal is recorded as any is; the Access is then as Authorize
// left it, refused.
func (acc *Access) fresh(ctx context.Context) error {
	s := acc.svc
	if acc.at.IsZero() || s.now().Sub(acc.at) < recheckAfter {
		return nil
	}
	a, err := s.actorNow(ctx, acc.Actor)
	if err != nil {
		return err
	}
	again, err := s.Authorize(ctx, a, acc.action, acc.Visit.ID, acc.fileID)
	*acc = *again
	return err
}

// refuse records a refusal and turns the decision into the error the
// actor sees.
func (acc *Access) refuse(ctx context.Context, action policy.Action, object string, d policy.Decision) error {
	s, a := acc.svc, acc.Actor
	if a.known() {
		// A refusal is recorded; if it cannot be, the refusal still stands.
		// Once decided, it is recorded even if the request has ended since:
		// a prober hanging up at once must not keep it out of the trail.
		rec := acc.rec("request.denied", object, "denied", map[string]any{
			"action": string(action), "policies": d.Policies, "rule": d.Rule, "route": a.Via})
		if err := s.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
			return s.dbErr(ctx, "audit", err)
		}
	}
	s.log.Info("denied", "request_id", a.RequestID, "user", a.UserID, "action", string(action),
		"visit", acc.Visit.ID, "policies", d.Policies, "rule", d.Rule)
	switch {
	case !a.known():
		return errNotSignedIn
	case !d.Visible:
		return errNotFound
	case d.Gone:
		return errGone
	case d.Locked && d.Rule == "legal-hold":
		return errHeld
	case d.Locked && d.Rule == "outside-access-window":
		opens := acc.Window.From
		if acc.Window.Closed || !s.now().Before(opens) {
			opens = time.Time{}
		}
		return locked("window_closed", windowMessage(acc.Window, s.now()), opens)
	case d.Locked:
		return locked("locked", "This visit is not accepting uploads or changes to files at the moment. If you still need to send or change a file, contact the lead inspector.", time.Time{})
	}
	if e := acc.scanRefusal(d); e != nil {
		return e
	}
	return errForbidden
}

// errHeld refuses a change to the evidence of a visit under legal hold.
var errHeld = &Error{Kind: KindLocked, Code: "legal_hold",
	Msg: "This visit is under a legal hold: its files cannot be deleted, replaced or re-filed until an administrator lifts the hold."}

// errBeingDestroyed refuses a read of what went with the key of a visit
// whose destruction has begun.
var errBeingDestroyed = &Error{Kind: KindGone, Code: "destroying",
	Msg: "This visit's evidence is being destroyed under the retention schedule."}

// errDestroyingSince refuses a file whose commit came after the visit's
// destruction began.
var errDestroyingSince = &Error{Kind: KindGone, Code: "destroying",
	Msg: "This visit's evidence is being destroyed under the retention schedule: no file can be added to it or changed."}

// heldSince turns the store's refusal of a change to the evidence of a
// visit put under legal hold after the request was allowed
// (store.ErrOnHold) into the refusal the policy gives under a hold, and
// its refusal of a file stored after the visit's destruction began
// (store.ErrDestructionBegun) into the refusal of a visit destroyed.
func heldSince(err error) error {
	switch {
	case errors.Is(err, store.ErrOnHold):
		return errHeld
	case errors.Is(err, store.ErrDestructionBegun):
		return errDestroyingSince
	case errors.Is(err, store.ErrMovedSince):
		return errMovedSince
	case errors.Is(err, store.ErrReplacedGone):
		return errReplacedGone
	case errors.Is(err, store.ErrNotRequested):
		return errNotRequestedSince
	case errors.Is(err, store.ErrInfectedKept):
		return &Error{Kind: KindForbidden, Code: "infected", Msg: "The malware scanner found this file infected while it was being deleted. It is kept for the portal's administrators, and nobody can download it."}
	}
	return err
}

// errNotRequestedSince refuses a file stored or filed under a case file
// removed from the information request meanwhile.
var errNotRequestedSince = &Error{Kind: KindConflict, Code: "not_requested", Msg: "The case file this was going to was removed from the information request meanwhile. Nothing was stored under it: choose an item the inspectors have asked for, then try again."}

// errMovedSince refuses a new version of a file moved to another item
// while it was uploaded.
var errMovedSince = &Error{Kind: KindConflict, Code: "moved", Msg: "While this new version was being uploaded, the file was moved to another item. Nothing was replaced: check where the file is now, then upload the new version again."}

// errReplacedGone refuses a new version of a file deleted, withdrawn or
// replaced by another version while it was uploaded.
var errReplacedGone = &Error{Kind: KindConflict, Code: "replaced_gone",
	Msg: "While this new version was being uploaded, the file it replaces was deleted or replaced. Nothing was replaced: check the file list, then upload your file again (as a new file, if it is still needed)."}

// fileFilter decides which files the actor may act on (list them, put them
// in an archive). It asks policy once per distinct (item, own file or not),
// not once per file.
func (acc *Access) fileFilter(ctx context.Context, action policy.Action) func(store.File) (bool, error) {
	type key struct {
		item string
		own  bool
		scan string
	}
	cache := map[key]bool{}
	p := acc.principal()
	return func(f store.File) (bool, error) {
		k := key{f.Item, f.UploadedBy == acc.Actor.UserID, f.Scan}
		if ok, seen := cache[k]; seen {
			return ok, nil
		}
		rep := f
		if !k.own {
			rep.UploadedBy = "" // any other uploader
		}
		r, err := acc.resource(ctx, &rep)
		if err != nil {
			return false, err
		}
		ok := acc.svc.policy.Decide(p, action, r).Allow
		cache[k] = ok
		return ok, nil
	}
}

// administratorsAct reports whether the act last required was allowed to
// the actor as an administrator alone: no permit of their membership's
// role allowed it.
func (acc *Access) administratorsAct() bool {
	return acc.Actor.Administrator && len(acc.allowedBy) > 0 && !slices.ContainsFunc(acc.allowedBy, func(p string) bool { return p != policy.AdministratorPolicy })
}

// Role is the actor's role on the visit as the audit trail names it.
func (acc *Access) Role() string {
	if acc.Member.Role == "" && acc.Actor.Administrator {
		return "administrator"
	}
	return acc.Member.Role
}

// IsID reports whether s is an id the portal makes (store.NewID: 32
// lower-case hex digits). Anything else names nothing.
func IsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// needFile refuses an act on a file when the request named none.
func (acc *Access) needFile() error {
	if acc.File.ID == "" {
		return errNotFound
	}
	return nil
}
