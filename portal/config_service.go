package portal

import (
	"net/mail"
	"strings"
	"unicode"
)

// ServiceInfo is what the portal's public pages (help, contact, privacy
// notice) say about who runs it: the operator completes the privacy notice
// through these settings. None is required, so that a portal starts
// before its operator has written them; the privacy notice then says
// plainly which parts are missing.
type ServiceInfo struct {
	// Controller is the data controller of the evidence and accounts
	// (PORTAL_PRIVACY_CONTROLLER), such as "Ofsted".
	Controller string
	// PrivacyContact is the data protection officer's address
	// (PORTAL_PRIVACY_CONTACT).
	PrivacyContact string
	// Retention says how long the portal's own records (accounts, the
	// audit trail, sessions) are kept (PORTAL_PRIVACY_RETENTION): evidence
	// follows the visit's retention, which the pages state themselves.
	Retention string
	// ContactEmail and ContactPhone are where users get help
	// (PORTAL_CONTACT_EMAIL, PORTAL_CONTACT_PHONE).
	ContactEmail string
	ContactPhone string
}

func readService(e *envReader) ServiceInfo {
	return ServiceInfo{
		Controller:     strings.TrimSpace(e.str("PORTAL_PRIVACY_CONTROLLER", "")),
		PrivacyContact: strings.TrimSpace(e.str("PORTAL_PRIVACY_CONTACT", "")),
		Retention:      strings.TrimSpace(e.str("PORTAL_PRIVACY_RETENTION", "")),
		ContactEmail:   strings.TrimSpace(e.str("PORTAL_CONTACT_EMAIL", "")),
		ContactPhone:   strings.TrimSpace(e.str("PORTAL_CONTACT_PHONE", "")),
	}
}

func (c *Config) validateService(e *envReader) {
	s := c.Service
	for _, f := range []struct{ key, v string }{
		{"PORTAL_PRIVACY_CONTROLLER", s.Controller}, {"PORTAL_PRIVACY_RETENTION", s.Retention},
	} {
		if len(f.v) > 500 || strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			e.fail("%s must be one line of text of at most 500 characters", f.key)
		}
	}
	for _, f := range []struct{ key, v string }{
		{"PORTAL_PRIVACY_CONTACT", s.PrivacyContact}, {"PORTAL_CONTACT_EMAIL", s.ContactEmail},
	} {
		if f.v != "" && !isPlainAddress(f.v) {
			e.fail("%s must be an email address such as dpo@ofsted.example, got %q", f.key, f.v)
		}
	}
	if s.ContactPhone != "" && !isPhone(s.ContactPhone) {
		e.fail("PORTAL_CONTACT_PHONE must be a telephone number of digits, spaces and an optional leading +, such as 0300 123 1231, got %q", s.ContactPhone)
	}
}

// isPlainAddress accepts a bare email address (no display name).
func isPlainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func isPhone(s string) bool {
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ':
		case r == '+' && i == 0:
		default:
			return false
		}
	}
	return digits >= 3 && digits <= 15
}
