// Package policy decides who may do what on the portal. It knows nothing of
// HTTP, Gin or SQL: callers describe the principal, the action and the
// resource with plain values, and get a Decision.
//
// Deny by default: an action is allowed only when a rule below allows it.
// Administrators manage visits and members but never read evidence unless
// they are also members of that visit (separation of duties).
package policy

import "slices"

// Action is something a principal tries to do.
type Action string

// The actions the portal authorizes.
const (
	VisitList    Action = "visit.list"    // list the visits I may see
	VisitCreate  Action = "visit.create"  // create a visit
	VisitView    Action = "visit.view"    // see one visit
	VisitManage  Action = "visit.manage"  // change a visit's details
	MemberManage Action = "member.manage" // add, change, remove members
	FileList     Action = "file.list"
	FileUpload   Action = "file.upload"
	FileDownload Action = "file.download"
	FileDelete   Action = "file.delete"
)

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

// IsRole reports whether s names a visit role.
func IsRole(s string) bool { return slices.Contains(Roles, s) }

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
}

// Resource is what the action is on. Zero values mean "not applicable".
type Resource struct {
	VisitID string
	// AcceptsUploads is true while the visit takes evidence.
	AcceptsUploads bool
	// FileUploadedBy is the user id of a file's uploader.
	FileUploadedBy string
}

// Decision is the outcome and the rule that produced it.
type Decision struct {
	Allow bool
	// Rule names the rule that allowed, or the reason for denial.
	Rule string
	// Visible is false when the principal may not even know the resource
	// exists: callers answer 404 rather than 403.
	Visible bool
	// Locked is true when the principal's role would allow the action but
	// the visit's state forbids it now (uploads closed): callers answer 423.
	Locked bool
}

func allow(rule string) Decision  { return Decision{Allow: true, Rule: rule, Visible: true} }
func locked(rule string) Decision { return Decision{Rule: rule, Visible: true, Locked: true} }
func deny(rule string, visible bool) Decision {
	return Decision{Rule: rule, Visible: visible}
}

// Decide returns the decision for p doing a on r.
func Decide(p Principal, a Action, r Resource) Decision {
	if p.UserID == "" {
		return deny("not-signed-in", false)
	}
	member := p.Role != ""
	switch a {
	case VisitList:
		return allow("signed-in-lists-own-visits")
	case VisitCreate:
		if p.Administrator {
			return allow("administrator-creates-visits")
		}
		return deny("administrators-only", true)
	case VisitView:
		if member {
			return allow("member-views-visit")
		}
		if p.Administrator {
			return allow("administrator-views-visit")
		}
		return deny("not-a-member", false)
	case VisitManage, MemberManage:
		if p.Administrator {
			return allow("administrator-manages-visit")
		}
		return deny("administrators-only", member)
	}
	// Evidence: members only. An administrator who is not a member may know
	// the visit exists, but reads nothing.
	if !member {
		return deny("evidence-is-for-members", p.Administrator)
	}
	switch a {
	case FileList, FileDownload:
		return allow("member-reads-evidence")
	case FileUpload:
		if !IsProviderRole(p.Role) {
			return deny("provider-roles-upload", true)
		}
		if !r.AcceptsUploads {
			return locked("visit-not-accepting-uploads")
		}
		return allow("provider-uploads")
	case FileDelete:
		var d Decision
		switch {
		case p.Role == RoleProviderCoordinator:
			d = allow("coordinator-deletes-provider-files")
		case p.Role == RoleProviderUploader && r.FileUploadedBy == p.UserID:
			d = allow("uploader-deletes-own-files")
		default:
			return deny("only-uploader-or-coordinator-deletes", true)
		}
		if !r.AcceptsUploads {
			return locked("visit-not-accepting-uploads")
		}
		return d
	}
	return deny("no-rule-allows", false)
}
