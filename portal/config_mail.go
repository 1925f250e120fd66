package portal

import (
	"time"

	"github.com/ofsted-portal/evidence/portal/mail"
)

// MailConfig is how notifications are sent (README: Notifications). With
// no SMTP URL they are written to the outbox but not sent.
type MailConfig struct {
	SMTPURL  string // PORTAL_SMTP_URL
	SMTP     mail.Endpoint
	Password string // PORTAL_SMTP_PASSWORD or its _FILE
	From     string // PORTAL_MAIL_FROM
	// Every is how often the outbox is looked at for mail to send.
	Every time.Duration
}

func readMail(e *envReader) MailConfig {
	return MailConfig{
		SMTPURL:  e.str("PORTAL_SMTP_URL", ""),
		Password: e.secret("PORTAL_SMTP_PASSWORD"),
		From:     e.str("PORTAL_MAIL_FROM", ""),
		Every:    e.duration("PORTAL_MAIL_INTERVAL", 10*time.Second),
	}
}

func (c *Config) validateMail(e *envReader) {
	m := &c.Mail
	if m.Every < 100*time.Millisecond {
		e.fail("PORTAL_MAIL_INTERVAL must be at least 100ms")
	}
	if m.SMTPURL == "" {
		return
	}
	ep, err := mail.ParseURL(m.SMTPURL)
	if err != nil {
		e.fail("PORTAL_SMTP_URL %s", err)
		return
	}
	m.SMTP = ep
	if ep.Username != "" && m.Password == "" {
		e.fail("PORTAL_SMTP_URL names the user %q: set PORTAL_SMTP_PASSWORD_FILE to its password", ep.Username)
	}
	if m.From == "" {
		e.fail("PORTAL_MAIL_FROM is required with PORTAL_SMTP_URL: the sender's address, such as \"Evidence portal <evidence-portal@ofsted.example>\"")
	} else if _, err := mail.NewSender(ep, m.Password, m.From); err != nil {
		e.fail("PORTAL_MAIL_FROM must be an address such as \"Evidence portal <evidence-portal@ofsted.example>\", got %q", m.From)
	}
}
