package policy

import "strings"

// reasons says in words what each policy means, for the explain view.
var reasons = map[string]string{
	"signed-in-lists-own-visits":               "anyone signed in may list the visits they can see",
	"administrator-manages-visits":             "administrators manage visits, members, letter events, legal holds, the audit trail and destruction certificates",
	"member-views-visit":                       "members of the visit may see it, and its information request, while their access window is open",
	"inspectors-read-evidence":                 "the inspection team (lead, inspectors, QAM, analysts) may list and download evidence while their access window is open",
	"coordinator-reads-provider-files":         "the provider coordinator may list and download every provider file",
	"uploader-lists-visit":                     "provider uploaders may list the visit's files (they see their own)",
	"uploader-reads-own-files":                 "provider uploaders may list and download the files they uploaded",
	"provider-uploads":                         "provider staff may upload while the visit accepts uploads",
	"coordinator-deletes-provider-files":       "the provider coordinator may delete or replace files while the visit accepts uploads",
	"uploader-deletes-own-files":               "provider uploaders may delete or replace their own files while the visit accepts uploads",
	"coordinator-completes-items":              "the provider coordinator may mark an item of the information request complete while the visit accepts uploads",
	"outside-administrator-purges-misdirected": "an administrator who is not a member of the visit may purge a misdirected upload once the visit no longer accepts uploads",
	"lead-and-qam-view-audit":                  "the lead inspector and the QAM may view the visit's audit trail",
	"lead-records-letter-events":               "the lead inspector records letter events",
	"lead-manages-information-request":         "the lead inspector edits the information request",
	"restricted-item":                          "this file's item is restricted to other roles of the inspection team",
	"coordinator-files-provider-files":         "the provider coordinator may file provider files under items while the visit accepts uploads",
	"lead-files-evidence":                      "the lead inspector may file files under items",
	"unfiled-until-filed":                      "files not filed under an item are seen only by provider staff, the lead inspector and the QAM until someone files them",
	"withheld-until-scanned":                   "a file the malware scanner has not found clean is seen only by the provider staff who may see it",
	"served-only-when-scanned":                 "nobody downloads a file the malware scanner has not found clean, and an infected file is never served",
	"infected-kept":                            "an infected file is kept for the administrators and as evidence: it is not deleted",
	"legal-hold-freezes-evidence":              "a legal hold freezes the evidence: no file is deleted or re-filed",
	"destruction-approved-from-outside":        "a destruction is approved by an administrator who is not a member of the visit",
	"legal-hold-lifted-from-outside":           "a legal hold is lifted by an administrator who is not a member of the visit",
	"letter-withdrawn-from-outside":            "a letter event recorded in error is withdrawn by an administrator who is not a member of the visit",
	"visit-destroyed":                          "the visit's evidence has been destroyed",
	"restricted-item-questions":                "this item is restricted to other roles of the inspection team, and so are its questions",
	"restricted-item-title":                    "this item is restricted to other roles of the inspection team, and so are its title, its count of files and whether anything was sent for it",
	"members-discuss-items":                    "members may read and post questions and answers on the visit's items while their access window is open",
	"team-and-coordinator-discuss-files":       "the inspection team and the provider coordinator may read and post questions on the files they may see",
	"uploader-discusses-own-files":             "provider uploaders may read and post questions on the files they uploaded",
	"provider-asks-for-receipts":               "provider staff may ask for signed receipts of what they supplied",
	"coordinator-reads-receipts":               "the provider coordinator may download every submission receipt of the visit",
	"uploader-reads-own-receipts":              "provider uploaders may download the receipts issued to them",
}

// Explain says in words why a decision came out as it did.
func Explain(d Decision) string {
	var parts []string
	for _, id := range d.Policies {
		if r, ok := reasons[id]; ok {
			parts = append(parts, r)
		}
	}
	switch {
	case d.Allow:
		return "Allowed: " + strings.Join(parts, "; ") + "."
	case d.Gone:
		return "Denied: the visit's evidence has been destroyed."
	case d.Locked && d.Rule == "legal-hold":
		return "Denied for now: a legal hold freezes the evidence until it is lifted."
	case d.Locked && d.Rule == "outside-access-window":
		return "Denied for now: the role allows it, but the person's access window is closed."
	case d.Locked:
		return "Denied for now: the role allows it, but the visit is not accepting uploads or changes to files."
	case len(parts) > 0:
		return "Denied: " + strings.Join(parts, "; ") + "."
	case d.Rule == "not-signed-in":
		return "Denied: not signed in."
	case d.Rule == "policy-error":
		return "Denied: a policy failed to evaluate, and the portal refuses whenever one does (fail closed). The policy set needs correcting."
	}
	return "Denied: no policy allows this role to do this (deny by default)."
}
