// Package policy decides who may do what on the portal, with Cedar. It knows
// nothing of HTTP, Gin or SQL: callers describe the principal, the action and
// the resource with plain values, and get a Decision naming the policies that
// determined it.
//
// The policy text is fixed, reviewed and embedded (policies.cedar); the data
// it reads (roles, access windows, item restrictions, visit state) comes from
// the caller on every request, so a change of membership takes effect on the
// next request. Deny is the default: an action is allowed only when a permit
// policy matches and no forbid policy does. Administrators manage visits and
// members but never read evidence unless they are also members of that visit
// (separation of duties).
package policy

import (
	_ "embed"
	"fmt"
	"slices"

	"github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/ast"
)

// Action is something a principal tries to do.
type Action string

// The actions the portal authorizes.
const (
	SelfView           Action = "self.view"            // who am I
	VisitList          Action = "visit.list"           // list the visits I may see
	VisitCreate        Action = "visit.create"         // create a visit
	VisitView          Action = "visit.view"           // see one visit
	VisitManage        Action = "visit.manage"         // change a visit's details and item restrictions
	MemberManage       Action = "member.manage"        // add, change, remove members
	VisitRecordEvent   Action = "visit.record_event"   // letter events
	EventWithdraw      Action = "visit.withdraw_event" // a letter event recorded in error, from outside the visit
	RequestManage      Action = "request.manage"       // edit the information request
	LegalHoldSet       Action = "legal_hold.set"
	LegalHoldLift      Action = "legal_hold.lift" // from outside the visit, as destruction follows
	AuditView          Action = "audit.view"
	CertificateView    Action = "certificate.view" // a destroyed visit's certificate
	FileList           Action = "file.list"
	FileUpload         Action = "file.upload"
	FileDownload       Action = "file.download"
	FileDelete         Action = "file.delete"
	FileRefile         Action = "file.refile"         // file a file under another item
	FileReplace        Action = "file.replace"        // upload a new version of a file
	FilePurge          Action = "file.purge"          // remove a misdirected upload for good
	ItemComplete       Action = "item.complete"       // say an item of the request is all sent
	DestructionApprove Action = "destruction.approve" // confirm a visit due for destruction
	QuestionView       Action = "question.view"       // read the questions on an item or file
	QuestionPost       Action = "question.post"       // ask, answer, mark a question answered
	ReceiptView        Action = "receipt.view"        // download a signed submission receipt
	ReceiptIssue       Action = "receipt.issue"       // have a batch of one's uploads receipted
	FileScanRelease    Action = "file.scan_release"   // serve unscanned a file held for the scanner
	ItemView           Action = "item.view"           // see an item of the information request: its title, its files' count
)

// Actions lists every action, for tests and the explain page.
var Actions = []Action{SelfView, VisitList, VisitCreate, VisitView, VisitManage, MemberManage, VisitRecordEvent, EventWithdraw, RequestManage,
	LegalHoldSet, LegalHoldLift, AuditView, CertificateView, FileList, FileUpload, FileDownload, FileDelete, FileRefile, FileReplace, FilePurge, ItemComplete, DestructionApprove,
	QuestionView, QuestionPost, ReceiptView, ReceiptIssue, FileScanRelease, ItemView}

// Visit roles.
const (
	RoleLeadInspector       = "lead_inspector"
	RoleInspector           = "inspector"
	RoleQAManager           = "qa_manager"
	RoleAnalyst             = "analyst"
	RoleProviderCoordinator = "provider_coordinator"
	RoleProviderUploader    = "provider_uploader"
)

// Roles lists every visit role.
var Roles = []string{RoleLeadInspector, RoleInspector, RoleQAManager, RoleAnalyst, RoleProviderCoordinator, RoleProviderUploader}

// ChildLevelDataRoles may see child-level data unless an administrator
// changes an item's restriction.
var ChildLevelDataRoles = []string{RoleLeadInspector, RoleQAManager, RoleAnalyst}

// IsRole reports whether s names a visit role.
func IsRole(s string) bool { return slices.Contains(Roles, s) }

// AdministratorPolicy is the id of the policy that lets administrators
// manage visits: an act it alone allowed is an administrator's.
const AdministratorPolicy = "administrator-manages-visits"

// IsProviderRole reports whether a role belongs to the inspected provider's
// staff (as opposed to the inspectorate).
func IsProviderRole(role string) bool {
	return role == RoleProviderCoordinator || role == RoleProviderUploader
}

// Principal is who is asking.
type Principal struct {
	UserID        string
	Administrator bool
	// Role on the visit in question; empty when not a member.
	Role string
	// InWindow is true when now lies inside the member's access window.
	InWindow bool
	// Invited is true when a person who is not (yet) a member has been
	// added to the visit by email (the membership binds at their next
	// sign-in), or is a member under another identity with the same
	// email address: a part in the visit still, which the acts kept for
	// administrators with none refuse.
	Invited bool
}

// Resource is what the action is on: a visit, or a file of a visit.
type Resource struct {
	VisitID string
	// VisitState is the visit's state ("collecting", "destroyed", ...).
	VisitState string
	// AcceptsUploads is true while the visit takes evidence.
	AcceptsUploads bool
	// LegalHold is true while a legal hold freezes the visit's evidence.
	LegalHold bool
	// File is set for actions on one file.
	File *File
	// Item is set for actions on an item of the information request as a
	// whole (its questions); Receipt for actions on one submission receipt.
	// At most one of File, Item and Receipt is set.
	Item    *Item
	Receipt *Receipt
}

// Item is an item of the information request as policy sees it.
type Item struct {
	Code       string
	Restricted bool
	Roles      []string
}

// Receipt is a signed submission receipt as policy sees it: the person it
// was issued to (user id).
type Receipt struct {
	ID       string
	IssuedTo string
}

// File is a file as policy sees it.
type File struct {
	ID         string
	UploadedBy string // user id
	Item       string // item code; "" for none (not filed)
	Restricted bool   // the item is restricted...
	Roles      []string
	// Scan is the scanner's verdict: "clean", "scanning", "infected" or
	// "unscanned" (stored with scanning off). Empty is clean: a file as
	// tests and representatives describe it.
	Scan string
}

// Decision is the outcome and why.
type Decision struct {
	Allow bool
	// Policies are the ids of the policies that determined the decision:
	// the permits that allowed it, or the forbids that denied it (none when
	// nothing permitted it).
	Policies []string
	// Rule is a one-word summary for logs: the first policy, or the reason.
	Rule string
	// Visible is false when the principal may not even know the visit
	// exists: callers answer 404 rather than 403.
	Visible bool
	// Locked is true when the action would be allowed if the member's access
	// window were open and the visit accepted uploads, or but for a legal
	// hold (Rule "legal-hold"): callers answer 423.
	Locked bool
	// Gone is true when the visit is being or has been destroyed: 410.
	Gone bool
}

//go:embed policies.cedar
var policyText []byte

// Engine evaluates the embedded policy set. It is safe for concurrent use.
type Engine struct {
	policies *cedar.PolicySet
	// byAction holds, for each of Actions, the policies whose action
	// scope can match it: the rest can neither permit nor forbid it
	// (their scope is false before any condition is read), and Cedar
	// spent most of a decision checking each one's action list. Actions
	// have no groups here (the request's entities hold no Action), so
	// "action in [A, B]" matches A and B only; a scope naming one
	// entity (a group) is kept for every action, to be safe.
	byAction map[Action]*cedar.PolicySet
}

// New parses the embedded policies; each must carry a unique @id.
func New() (*Engine, error) {
	return newEngine("policies.cedar", policyText)
}

// newEngine parses the policies text (named name in errors).
func newEngine(name string, text []byte) (*Engine, error) {
	list, err := cedar.NewPolicyListFromBytes(name, text)
	if err != nil {
		return nil, fmt.Errorf("policy: parse: %w", err)
	}
	ps := cedar.NewPolicySet()
	for _, p := range list {
		id, ok := p.Annotations()["id"]
		if !ok || id == "" {
			return nil, fmt.Errorf("policy: a policy at %v has no @id", p.Position())
		}
		if !ps.Add(cedar.PolicyID(id), p) {
			return nil, fmt.Errorf("policy: duplicate @id %q", id)
		}
	}
	e := &Engine{policies: ps, byAction: map[Action]*cedar.PolicySet{}}
	for _, a := range Actions {
		uid := cedar.NewEntityUID("Action", cedar.String(a))
		set := cedar.NewPolicySet()
		for id, p := range ps.All() {
			if mayMatchAction(p, uid) {
				set.Add(id, p)
			}
		}
		e.byAction[a] = set
	}
	return e, nil
}

// mayMatchAction says whether p's action scope can hold for the action
// uid (an action in no group).
func mayMatchAction(p *cedar.Policy, uid cedar.EntityUID) bool {
	switch sc := p.AST().Action.(type) {
	case ast.ScopeTypeAll:
		return true
	case ast.ScopeTypeEq:
		return sc.Entity == uid
	case ast.ScopeTypeInSet:
		return slices.Contains(sc.Entities, uid)
	default: // "action in" one entity, or a scope this code does not know
		return true
	}
}

// policiesFor is the policy set to evaluate for a: its own, or the whole
// set for an action the portal does not define.
func (e *Engine) policiesFor(a Action) *cedar.PolicySet {
	if ps, ok := e.byAction[a]; ok {
		return ps
	}
	return e.policies
}

// PolicyIDs lists the ids of the loaded policies.
func (e *Engine) PolicyIDs() []string {
	var ids []string
	for id := range e.policies.All() {
		ids = append(ids, string(id))
	}
	slices.Sort(ids)
	return ids
}

// Decide returns the decision for p doing a on r.
func (e *Engine) Decide(p Principal, a Action, r Resource) Decision {
	if p.UserID == "" {
		return Decision{Rule: "not-signed-in"}
	}
	d := e.evaluate(p, a, r)
	d.Visible = p.Administrator || p.Role != "" || r.VisitID == ""
	if d.Allow {
		return d
	}
	if slices.Contains(d.Policies, "visit-destroyed") {
		d.Gone = true
		return d
	}
	// A file the member may not even list (a restricted item, unfiled
	// files, one withheld until scanned), whatever their window or a
	// hold, is to them no file at all: the refusal is the one for a file
	// that does not exist, so that an id learnt somewhere does not tell
	// them a hidden file is there.
	if p.Role != "" && r.File != nil && a != FileList {
		p2, r2 := p, r
		p2.InWindow, r2.AcceptsUploads, r2.LegalHold = true, true, false
		if l := e.evaluate(p2, FileList, r2); !l.Allow {
			d.Visible, d.Rule = false, l.Rule // why it is hidden
			return d
		}
	}
	// A receipt issued to another is, to an uploader, no receipt at all,
	// as their colleagues' files are no files: refused as one that does
	// not exist, so that a receipt's or a file's id learnt somewhere does
	// not tell them it is there.
	if p.Role != "" && r.Receipt != nil && r.Receipt.IssuedTo != p.UserID {
		// Refused with the window open (not theirs), and allowed were
		// it theirs: hidden. A refusal for the window alone stays locked.
		p2, r2 := p, r
		p2.InWindow, r2.Receipt = true, &Receipt{ID: r.Receipt.ID, IssuedTo: p.UserID}
		if !e.evaluate(p2, a, r).Allow && e.evaluate(p2, a, r2).Allow {
			d.Visible = false
			return d
		}
	}
	if slices.Contains(d.Policies, "legal-hold-freezes-evidence") {
		d.Locked, d.Rule = true, "legal-hold"
		return d
	}
	if p.Role != "" && (!p.InWindow || !r.AcceptsUploads) {
		// Would the role allow it with the window open and uploads on?
		p2, r2 := p, r
		p2.InWindow, r2.AcceptsUploads = true, true
		if e.evaluate(p2, a, r2).Allow {
			d.Locked = true
			d.Rule = "visit-not-accepting-uploads"
			if !p.InWindow {
				d.Rule = "outside-access-window"
			}
		}
	}
	return d
}

// The user's and the visit's attributes are a few booleans: their records
// (immutable) are made once, not on every decision.
var (
	userRecords  = [2]cedar.Record{userRecord(false), userRecord(true)}
	visitRecords = [2][2]cedar.Record{{visitRecord(false, false), visitRecord(false, true)}, {visitRecord(true, false), visitRecord(true, true)}}
)

func userRecord(administrator bool) cedar.Record {
	return cedar.NewRecord(cedar.RecordMap{"administrator": cedar.Boolean(administrator)})
}

func visitRecord(acceptsUploads, legalHold bool) cedar.Record {
	return cedar.NewRecord(cedar.RecordMap{"accepts_uploads": cedar.Boolean(acceptsUploads), "legal_hold": cedar.Boolean(legalHold)})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func stringSet(ss []string) cedar.Set {
	vs := make([]cedar.Value, len(ss))
	for i, v := range ss {
		vs[i] = cedar.String(v)
	}
	return cedar.NewSet(vs...)
}

func (e *Engine) evaluate(p Principal, a Action, r Resource) Decision {
	user := cedar.NewEntityUID("User", cedar.String(p.UserID))
	visit := cedar.NewEntityUID("Visit", cedar.String(r.VisitID))
	entities := cedar.EntityMap{
		user:  {UID: user, Attributes: userRecords[b2i(p.Administrator)]},
		visit: {UID: visit, Attributes: visitRecords[b2i(r.AcceptsUploads)][b2i(r.LegalHold)]},
	}
	resource := visit
	switch {
	case r.Item != nil:
		resource = cedar.NewEntityUID("Item", cedar.String(r.VisitID+"/"+r.Item.Code))
		entities[resource] = cedar.Entity{UID: resource, Parents: cedar.NewEntityUIDSet(visit), Attributes: cedar.NewRecord(cedar.RecordMap{
			"restricted": cedar.Boolean(r.Item.Restricted), "roles": stringSet(r.Item.Roles), "unfiled": cedar.Boolean(r.Item.Code == ""),
		})}
	case r.Receipt != nil:
		resource = cedar.NewEntityUID("Receipt", cedar.String(r.Receipt.ID))
		entities[resource] = cedar.Entity{UID: resource, Parents: cedar.NewEntityUIDSet(visit), Attributes: cedar.NewRecord(cedar.RecordMap{
			"visit": visit, "issued_to": cedar.NewEntityUID("User", cedar.String(r.Receipt.IssuedTo)),
		})}
	}
	if f := r.File; f != nil {
		item := cedar.NewEntityUID("Item", cedar.String(r.VisitID+"/"+f.Item))
		roles := make([]cedar.Value, len(f.Roles))
		for i, role := range f.Roles {
			roles[i] = cedar.String(role)
		}
		entities[item] = cedar.Entity{UID: item, Parents: cedar.NewEntityUIDSet(visit), Attributes: cedar.NewRecord(cedar.RecordMap{
			"restricted": cedar.Boolean(f.Restricted), "roles": cedar.NewSet(roles...), "unfiled": cedar.Boolean(f.Item == ""),
		})}
		resource = cedar.NewEntityUID("File", cedar.String(f.ID))
		entities[resource] = cedar.Entity{UID: resource, Parents: cedar.NewEntityUIDSet(item, visit), Attributes: cedar.NewRecord(cedar.RecordMap{
			"visit": visit, "item": item, "uploaded_by": cedar.NewEntityUID("User", cedar.String(f.UploadedBy)), "scan": cedar.String(f.Scan),
		})}
	}
	ok, diag := cedar.Authorize(e.policiesFor(a), entities, cedar.Request{
		Principal: user,
		Action:    cedar.NewEntityUID("Action", cedar.String(a)),
		Resource:  resource,
		Context: cedar.NewRecord(cedar.RecordMap{
			"role":        cedar.String(p.Role),
			"in_window":   cedar.Boolean(p.InWindow),
			"invited":     cedar.Boolean(p.Invited),
			"visit_state": cedar.String(r.VisitState),
		}),
	})
	if ok && len(diag.Errors) > 0 {
		// Cedar skips a policy that fails to evaluate: a forbid skipped
		// so no longer applies, and the permit beside it allowed. An
		// allow beside any error is refused (fail closed); a refusal
		// keeps the forbids that decided it (destroyed, held).
		return Decision{Rule: "policy-error"}
	}
	d := Decision{Allow: bool(ok)}
	for _, reason := range diag.Reasons {
		d.Policies = append(d.Policies, string(reason.PolicyID))
	}
	slices.Sort(d.Policies)
	switch {
	case len(d.Policies) > 0:
		d.Rule = d.Policies[0]
	case len(diag.Errors) > 0:
		d.Rule = "policy-error" // never allows: deny by default
	default:
		d.Rule = "no-policy-permits"
	}
	return d
}
