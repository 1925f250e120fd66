package devstack

import (
	"context"
	"maps"
	"path/filepath"
)

// startMailpit starts the stack's mail catcher and sets the portal's mail
// configuration to it.
func (st *Stack) startMailpit(ctx context.Context, o *Options) error {
	st.mailpitOpts = MailpitOptions{Dir: filepath.Join(o.Dir, "mailpit"), SMTPAddr: o.MailpitSMTPAddr, HTTPAddr: o.MailpitWebAddr,
		Binary: o.MailpitBinary, AllowedRecipients: o.MailpitAllowedRecipients}
	mp, err := StartMailpit(ctx, st.mailpitOpts)
	if err != nil {
		return err
	}
	st.Mailpit = mp
	// Restarts keep the ports the portal was configured with.
	st.mailpitOpts.SMTPAddr, st.mailpitOpts.HTTPAddr = mp.SMTPAddr, mp.WebURL[len("http://"):]
	env := map[string]string{
		"PORTAL_SMTP_URL":      "smtp://" + mp.SMTPAddr + "?tls=none",
		"PORTAL_MAIL_FROM":     "Evidence portal <evidence-portal@portal.example>",
		"PORTAL_MAIL_INTERVAL": "2s",
	}
	maps.Copy(env, o.Env)
	o.Env = env
	return nil
}

// StopMailpit stops the mail catcher (tests of a mail server that is down);
// StartMailpitAgain starts it again on the same ports, with the mail it
// had kept.
func (st *Stack) StopMailpit() error { return st.Mailpit.Stop() }

// StartMailpitAgain starts the mail catcher again after StopMailpit.
func (st *Stack) StartMailpitAgain(ctx context.Context) error {
	mp, err := StartMailpit(ctx, st.mailpitOpts)
	if err != nil {
		return err
	}
	st.Mailpit = mp
	return nil
}
