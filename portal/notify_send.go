package portal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/mail"
	"github.com/ofsted-portal/evidence/portal/store"
)

const (
	// noteLease is how long a claimed notification is this instance's to
	// send; one whose sender died is claimed again after it.
	noteLease = 2 * time.Minute
	// noteAttempts is how many times a notification is tried (about a
	// day, at noteBackoff) before it is marked failed for administrators.
	noteAttempts = 30
	noteBatch    = 50
)

// noteBackoff is how long after its nth failed attempt a notification is
// tried again: 30 seconds, doubling, at most an hour.
func noteBackoff(n int) time.Duration {
	return min(30*time.Second<<min(n-1, 8), time.Hour)
}

// ErrMailOff is returned by DeliverNotifications when no SMTP server is
// configured: notifications stay in the outbox.
var ErrMailOff = errors.New("portal: PORTAL_SMTP_URL is not set: notifications are kept in the outbox, not sent")

func newMailer(cfg MailConfig) (*mail.Sender, error) {
	if cfg.SMTPURL == "" {
		return nil, nil
	}
	return mail.NewSender(cfg.SMTP, cfg.Password, cfg.From)
}

// DeliverNotifications sends the notifications that are due, once each:
// every row is claimed under a lease by one instance, sent, and marked. A
// mail server that is down delays them (with backoff), and never fails the
// act that caused them. It returns how many were sent.
func (s *Service) DeliverNotifications(ctx context.Context) (int, error) {
	if s.mailer == nil {
		return 0, ErrMailOff
	}
	now := s.now()
	notes, err := s.store.ClaimNotifications(ctx, s.noteHolder, now, now.Add(noteLease), noteBatch)
	if err != nil {
		return 0, s.dbErr(ctx, "mail", err)
	}
	sent := 0
	var errs []error
	for _, n := range notes {
		if ctx.Err() != nil {
			break // the lease frees the rest for the next round
		}
		if mine, err := s.store.RenewClaim(ctx, n.ID, s.noteHolder, s.now().Add(noteLease)); err != nil || !mine {
			continue
		}
		state, next, attempted, mailFault, why := s.deliver(ctx, n)
		if attempted && state == store.NotePending && ctx.Err() != nil {
			// Cut short by the portal stopping (the worker's context
			// ended): no attempt spent, nothing the mail did. It keeps
			// its place, due for the next round, with its reason as it
			// was. A refusal for good (failed) stands as it came.
			state, next, attempted, mailFault, why = store.NotePending, n.NextAt, false, false, n.LastError
		}
		why = withoutAddresses(why)
		if state == store.NotePending && attempted {
			if n.Attempts+1 >= noteAttempts {
				state = store.NoteFailed
			}
			next = s.now().Add(noteBackoff(n.Attempts + 1))
		}
		// Every attempt that did not deliver is logged, and counted when
		// the mail failed it, one given up at once (an address refused)
		// as one to try again.
		if attempted && state != store.NoteSent {
			if mailFault {
				s.metrics.MailFailed()
			}
			errs = append(errs, fmt.Errorf("notification %s (%s): %s", n.ID, n.Kind, why))
		}
		if state == store.NoteSent {
			sent++
		}
		if err := s.store.FinishNotification(context.WithoutCancel(ctx), n.ID, s.noteHolder, state, why, n.Count, attempted, next, s.now()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		s.log.Warn("notifications not sent", "sent", sent, "err", errors.Join(errs...))
	}
	if n, err := s.store.PendingNotifications(context.WithoutCancel(ctx)); err == nil {
		s.metrics.MailQueue(n)
	}
	return sent, errors.Join(errs...)
}

// deliver tries one notification: its outcome, when to try again, whether
// it was an attempt, whether it failed at the mail (the SMTP server's
// answer, or a message that could not be made: what the mail failures'
// count and its alert are about), and why it was not sent. An access
// suspended, or the database failing, is an attempt that waits and is
// tried again, and no fault of the mail.
func (s *Service) deliver(ctx context.Context, n store.Notification) (state string, next time.Time, attempted, mailFault bool, why string) {
	r, err := s.store.ResolveRecipient(ctx, n.Recipient)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.NoteSkipped, n.NextAt, false, false, "the recipient is no longer a member or administrator"
	case err != nil:
		return store.NotePending, time.Time{}, true, false, err.Error()
	case r.Email == "":
		return store.NoteSkipped, n.NextAt, false, false, "the recipient has no email address"
	case r.Disabled:
		return store.NoteSkipped, n.NextAt, false, false, "the recipient's access to the portal is disabled"
	}
	if roles, ok := n.Data[store.RolesKey]; ok && !slices.Contains(strings.Fields(roles), r.Role) {
		return store.NoteSkipped, n.NextAt, false, false, "the recipient's role has changed"
	}
	// A membership whose role the person's organisation may not hold, or
	// whose identity provider is no longer configured, gives nothing
	// (membershipOf): nor is it mailed anything.
	if m := r.Member; m.ID != "" && m.Issuer != "" {
		if p, ok := s.issuer(m.Issuer); !ok || !p.MayHold(m.Role) {
			return store.NoteSkipped, n.NextAt, false, false, "the recipient's membership gives no access: their organisation may not hold its role"
		}
	}
	if IsDigest(n.Kind) && r.UserID != "" {
		off, err := s.store.NotificationsOff(ctx, r.UserID)
		if err != nil {
			return store.NotePending, time.Time{}, true, false, err.Error()
		}
		if off[n.Kind] {
			return store.NoteSkipped, n.NextAt, false, false, "switched off by the recipient"
		}
	}
	v, err := s.store.Visit(ctx, n.VisitID)
	if err != nil {
		return store.NotePending, time.Time{}, true, false, err.Error()
	}
	// A member who has lost access since the row was written (the window
	// ended, or the evidence was destroyed) is not mailed about the visit.
	if r.Member.ID != "" {
		if v.State == StateDestroying || v.State == StateDestroyed {
			return store.NoteSkipped, n.NextAt, false, false, "the visit's evidence has been destroyed"
		}
		st, err := s.status(ctx, v)
		if err != nil {
			return store.NotePending, time.Time{}, true, false, err.Error()
		}
		switch w := s.memberWindow(v, st, r.Member); {
		case !w.Until.IsZero() && !s.now().Before(w.Until):
			return store.NoteSkipped, n.NextAt, false, false, "the recipient's access to the visit has ended"
		case w.Closed:
			// Suspended until the calendar fits the visit's dates again:
			// tried again with backoff, then failed for administrators.
			return store.NotePending, time.Time{}, true, false, "the recipient's access is suspended: the visit's dates do not fit the calendar"
		case n.Kind != NoteMemberAdded && s.now().Before(w.From):
			// Not yet open (an inspector joining for fieldwork): told
			// they were added, but of the visit's evidence only once
			// they may see it. The mail waits for the day.
			return store.NotePending, w.From, false, false, ""
		}
	}
	// A visit is not announced to provider staff before its notification
	// call: their mail waits for the day.
	if announced := calendar.StartOfDay(v.NotificationDate); policy.IsProviderRole(r.Role) && s.now().Before(announced) {
		return store.NotePending, announced, false, false, ""
	}
	m, err := s.message(ctx, n, v, r)
	if err != nil {
		return store.NotePending, time.Time{}, true, false, err.Error()
	}
	out, err := mail.Render(m)
	if err != nil {
		return store.NoteFailed, n.NextAt, true, true, err.Error()
	}
	err = s.mailer.Send(ctx, mail.Outgoing{To: r.Email, MessageID: messageID(n), Date: s.now(), Rendered: out})
	if errors.Is(err, mail.ErrRecipient) || errors.Is(err, mail.ErrRecipientRefused) {
		return store.NoteFailed, n.NextAt, true, true, err.Error()
	}
	if err != nil {
		return store.NotePending, time.Time{}, true, true, err.Error()
	}
	s.log.Info("notification sent", "kind", n.Kind, "visit", n.VisitID, "notification", n.ID)
	return store.NoteSent, n.NextAt, true, false, ""
}

// address is anything a mail server's answer may give as an address.
var address = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)

// withoutAddresses is why a notification was not sent, as administrators
// see it and the log keeps it: the mail server's answer names the address
// it refused (and go-mail adds "affected recipient(s)"), which is a
// person's, said no further than their membership.
func withoutAddresses(why string) string {
	return address.ReplaceAllStringFunc(why, func(a string) string {
		if strings.HasPrefix(a, "notification-") {
			return a // the Message-ID: no one's address
		}
		return "(the address)"
	})
}

// mailDate is how mail shows a date: "Monday 7 September 2026".
const mailDate = "Monday 2 January 2006"

// message is what the templates may show of n: the reference, a role,
// counts, dates and links.
func (s *Service) message(ctx context.Context, n store.Notification, v store.Visit, r store.Recipient) (mail.Message, error) {
	base := s.cfg.PublicURL
	visit := base + "/visits/" + url.PathEscape(v.ID)
	m := mail.Message{Kind: n.Kind, Reference: v.Reference, Role: roleWords(r.Role), Count: n.Count, SignIn: base + "/", Link: visit}
	if r.UserID != "" || r.Role != store.RoleAdministrator {
		m.Settings = base + "/notifications"
	}
	if d, err := time.Parse(time.DateOnly, n.Data["date"]); err == nil {
		m.Date = d.Format(mailDate)
	} else if t, err := time.Parse(time.RFC3339, n.Data["date"]); err == nil {
		m.Date = t.In(calendar.London).Format(mailDate + " at 15:04")
	}
	switch n.Kind {
	case NoteMemberAdded, NoteAccessClosing:
		st, err := s.status(ctx, v)
		if err != nil {
			return m, err
		}
		w := s.memberWindow(v, st, r.Member)
		if !w.From.IsZero() && s.now().Before(w.From) {
			m.From = w.From.In(calendar.London).Format(mailDate)
		}
		if !w.Until.IsZero() {
			m.Until = lastDay(w.Until).Format(mailDate)
		}
	case NoteProviderDigest:
		m.Due, m.Overdue = atoi(n.Data["due"]), atoi(n.Data["overdue"])
	case NoteDestructionNotice, NoteDestructionReview:
		m.Link = base + "/destruction"
	case NoteDestructionDone:
		m.Link = base + "/api/v1/visits/" + url.PathEscape(v.ID) + "/certificate"
	}
	return m, nil
}

// lastDay is the civil date of the last day inside a window that ends at
// until (the start of the next day).
func lastDay(until time.Time) time.Time {
	return calendar.Today(until.Add(-time.Nanosecond))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// roleWords names a role in a sentence.
func roleWords(role string) string {
	switch role {
	case policy.RoleLeadInspector:
		return "the lead inspector"
	case policy.RoleInspector:
		return "an inspector"
	case policy.RoleQAManager:
		return "the quality assurance manager"
	case policy.RoleAnalyst:
		return "an analyst (SAO)"
	case policy.RoleProviderCoordinator:
		return "the provider coordinator"
	case policy.RoleProviderUploader:
		return "a provider uploader"
	case store.RoleAdministrator:
		return "an administrator"
	}
	return role
}

func noteHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), store.NewID()[:8])
}

// setUpMail makes the sender and has every act's records turned into
// notifications (New).
func (s *Service) setUpMail() error {
	if err := mail.Check(); err != nil {
		return err
	}
	m, err := newMailer(s.cfg.Mail)
	if err != nil {
		return err
	}
	s.mailer, s.noteHolder = m, noteHolder()
	s.store.OnAudit(s.notesFor)
	return nil
}

// startMail runs the scheduled notifications (every minute) and, when an
// SMTP server is configured, the sending of the outbox (Start).
func (s *Service) startMail(ctx context.Context, loop func(time.Duration, func(context.Context))) {
	// The first round runs before Start returns, so what is due today is
	// in the outbox once the portal serves; later rounds add only what
	// becomes due.
	if err := s.ScheduleNotifications(ctx); err != nil {
		s.log.Error("scheduled notifications", "err", err)
	}
	loop(time.Minute, func(ctx context.Context) {
		if err := s.ScheduleNotifications(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduled notifications", "err", err)
		}
	})
	if s.mailer == nil {
		s.log.Warn("PORTAL_SMTP_URL is not set: notifications are recorded in the outbox but not sent")
		return
	}
	s.log.Info("sending notifications", "smtp", s.cfg.Mail.SMTP.Host, "port", s.cfg.Mail.SMTP.Port, "tls", s.cfg.Mail.SMTP.TLS)
	loop(s.cfg.Mail.Every, func(ctx context.Context) { s.DeliverNotifications(ctx) })
}

// messageID is the same for every attempt at one mail: one tried again
// after a failure (which can come after the server took it, when its reply
// is lost) or after a crash between sending and marking. It differs for a
// row's next mail: a digest's late acts, told after its first mail, start
// a new round (created_at), so a mail client that drops a Message-ID it
// has seen does not drop them.
func messageID(n store.Notification) string {
	return "notification-" + n.ID + "." + strconv.FormatInt(n.CreatedAt.UnixMicro(), 36)
}
