package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigMail(t *testing.T) {
	c, err := LoadConfig(devEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mail.SMTPURL != "" || c.Mail.Every != 10*time.Second {
		t.Fatalf("defaults: %+v", c.Mail)
	}
	pw := filepath.Join(t.TempDir(), "smtp-password")
	if err := os.WriteFile(pw, []byte("relay-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = LoadConfig(devEnv(map[string]string{"PORTAL_SMTP_URL": "smtps://portal@relay.example", "PORTAL_SMTP_PASSWORD_FILE": pw,
		"PORTAL_MAIL_FROM": "Evidence portal <evidence-portal@ofsted.example>", "PORTAL_MAIL_INTERVAL": "30s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mail.SMTP.Host != "relay.example" || c.Mail.SMTP.Port != 465 || c.Mail.SMTP.TLS != "implicit" || c.Mail.SMTP.Username != "portal" ||
		c.Mail.Password != "relay-secret" || c.Mail.Every != 30*time.Second {
		t.Fatalf("mail: %+v", c.Mail)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"no sender":         {map[string]string{"PORTAL_SMTP_URL": "smtp://relay.example"}, "PORTAL_MAIL_FROM is required"},
		"bad sender":        {map[string]string{"PORTAL_SMTP_URL": "smtp://relay.example", "PORTAL_MAIL_FROM": "portal"}, "PORTAL_MAIL_FROM must be an address"},
		"user, no password": {map[string]string{"PORTAL_SMTP_URL": "smtp://u@relay.example", "PORTAL_MAIL_FROM": "p@x.example"}, "PORTAL_SMTP_PASSWORD_FILE"},
		"password in URL":   {map[string]string{"PORTAL_SMTP_URL": "smtp://u:pw@relay.example", "PORTAL_MAIL_FROM": "p@x.example"}, "must not hold a password"},
		"plain, remote":     {map[string]string{"PORTAL_SMTP_URL": "smtp://relay.example?tls=none", "PORTAL_MAIL_FROM": "p@x.example"}, "loopback"},
		"not SMTP":          {map[string]string{"PORTAL_SMTP_URL": "https://relay.example", "PORTAL_MAIL_FROM": "p@x.example"}, "PORTAL_SMTP_URL must be"},
	} {
		_, err := LoadConfig(devEnv(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", name, err, tc.want)
		}
	}
}
