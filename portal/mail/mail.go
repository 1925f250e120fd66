// Package mail sends the portal's notifications over SMTP.
//
// Invariant: a message is made only from a Message, which holds the visit
// reference, a role, counts, dates and links, and nothing else. Mail leaves
// the service, and the evidence is OFFICIAL-SENSITIVE: file names,
// children's names, titles and free text never reach a template, because
// no field could carry them.
package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Endpoint is a parsed PORTAL_SMTP_URL.
type Endpoint struct {
	Host     string
	Port     int
	Username string
	// TLS: "implicit" (smtps://), "starttls" (smtp://, required) or
	// "none" (smtp://…?tls=none, loopback only: a development mail
	// catcher).
	TLS string
}

// ParseURL parses smtp://[user@]host[:port][?tls=none] (STARTTLS required,
// port 587) or smtps://[user@]host[:port] (TLS from the start, port 465).
// A password in the URL is refused: it comes from PORTAL_SMTP_PASSWORD or
// its _FILE.
func ParseURL(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return Endpoint{}, fmt.Errorf("must be smtp://[user@]host[:port] (STARTTLS) or smtps://[user@]host[:port] (TLS)")
	}
	e := Endpoint{Host: u.Hostname(), TLS: "starttls", Port: 587}
	if u.Scheme == "smtps" {
		e.TLS, e.Port = "implicit", 465
	}
	if p := u.Port(); p != "" {
		if e.Port, err = strconv.Atoi(p); err != nil || e.Port < 1 || e.Port > 65535 {
			return Endpoint{}, fmt.Errorf("has a bad port %q", p)
		}
	}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			return Endpoint{}, fmt.Errorf("must not hold a password: set PORTAL_SMTP_PASSWORD_FILE")
		}
		e.Username = u.User.Username()
	}
	for k, v := range u.Query() {
		switch {
		case k == "tls" && len(v) == 1 && v[0] == "none" && u.Scheme == "smtp":
			if ip := net.ParseIP(e.Host); e.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return Endpoint{}, fmt.Errorf("may use tls=none only for a loopback host (a development mail catcher)")
			}
			e.TLS = "none"
		default:
			return Endpoint{}, fmt.Errorf("has an unknown parameter %q (only tls=none, for a loopback host)", k)
		}
	}
	return e, nil
}

// Sender sends messages through one SMTP server.
type Sender struct {
	ep       Endpoint
	password string
	from     string
	domain   string // of From: the right side of every Message-ID
}

// NewSender checks its arguments; it connects only when it sends.
func NewSender(ep Endpoint, password, from string) (*Sender, error) {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("PORTAL_MAIL_FROM: %w", err)
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	return &Sender{ep: ep, password: password, from: from, domain: domain}, nil
}

// Outgoing is one rendered message to one address.
type Outgoing struct {
	To        string
	MessageID string // unique per outbox row: a resend after a crash is recognisable
	Date      time.Time
	Rendered
}

// ErrRecipient is returned by Send for an address that is not one plain
// address (addr-spec): a display name, a second address, a line break.
// Addresses come from identity providers' claims; such a one is never
// mailed, and trying it again cannot help.
var ErrRecipient = errors.New("mail: the recipient's address is not one plain address")

// ErrRecipientRefused is returned by Send when the mail server refuses the
// recipient for good (a 5xx answer to RCPT TO: no such mailbox, a
// recipient it will not take): sending the same message again cannot help.
var ErrRecipientRefused = errors.New("mail: the mail server refused the recipient for good")

// Send delivers one message; an error leaves it for a later attempt, but
// for ErrRecipient and ErrRecipientRefused.
func (s *Sender) Send(ctx context.Context, o Outgoing) error {
	if a, err := netmail.ParseAddress(o.To); err != nil || a.Name != "" || a.Address != o.To {
		return ErrRecipient
	}
	m := gomail.NewMsg()
	if err := m.From(s.from); err != nil {
		return err
	}
	if err := m.To(o.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	m.Subject(o.Subject)
	m.SetMessageIDWithValue(o.MessageID + "@" + s.domain)
	m.SetDateWithValue(o.Date)
	m.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(gomail.TypeTextPlain, o.Text)
	m.AddAlternativeString(gomail.TypeTextHTML, o.HTML)
	opts := []gomail.Option{gomail.WithPort(s.ep.Port), gomail.WithTimeout(30 * time.Second)}
	// The client heeds ctx only while it connects; after that, only its
	// timeout ends a session with a server that has stalled. So that the
	// portal's stopping ends one at once, the connection is closed when
	// ctx ends (the connection under STARTTLS: with TLS from the start the
	// client must make the connection itself to know it is encrypted, and
	// only the timeout bounds it).
	var stops []func() bool
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		stops = append(stops, context.AfterFunc(ctx, func() { c.Close() }))
		return c, nil
	}
	switch s.ep.TLS {
	case "implicit":
		opts = append(opts, gomail.WithSSL())
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithDialContextFunc(dial))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithDialContextFunc(dial))
	}
	if s.ep.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.ep.Username), gomail.WithPassword(s.password))
	}
	c, err := gomail.NewClient(s.ep.Host, opts...)
	if err != nil {
		return fmt.Errorf("mail: client: %w", err)
	}
	// Once the server has accepted the data the message is sent, whatever
	// then becomes of the connection (the reset or quit that follows): an
	// error then would have it sent again, under another Message-ID.
	if err := c.DialAndSendWithContext(ctx, m); err != nil && !m.IsDelivered() {
		// A 5xx to RCPT TO is the recipient refused for good; a 5xx to
		// anything else (the sender, the log-in) is the portal's own
		// settings, which an operator mends: tried again.
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() && se.ErrorCode()/100 == 5 {
			return fmt.Errorf("%w: %w", ErrRecipientRefused, err)
		}
		return fmt.Errorf("mail: send: %w", err)
	}
	return nil
}
