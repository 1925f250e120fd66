package devstack

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEnvFileIsSourced: dev.env is what other commands act on the running
// stack with (`set -a; . ./var/dev.env; set +a`, as make run prints). Its
// values with spaces, angle brackets, parentheses or quotes (the mail's
// From, the privacy notice's controller) must reach the shell as they are,
// and a second start must read back what the first wrote.
func TestEnvFileIsSourced(t *testing.T) {
	dir := t.TempDir()
	want := map[string]string{
		"PORTAL_MAIL_FROM":          "Evidence portal <evidence-portal@portal.example>",
		"PORTAL_PRIVACY_CONTROLLER": "Ofsted (demo)",
		"PORTAL_TEST_QUOTE":         `it's "quoted" $HOME ` + "`x`",
	}
	o := Options{Dir: dir, Env: want}
	if _, err := loadOrCreateEnv(o); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		out, err := exec.Command("sh", "-c", `set -a; . "$1"; set +a; printf %s "$`+k+`"`, "sh", filepath.Join(dir, "dev.env")).CombinedOutput()
		if err != nil || string(out) != v {
			t.Errorf("%s sourced by the shell: %q (%v), want %q", k, out, err, v)
		}
	}
	again, err := loadOrCreateEnv(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if again[k] != v {
			t.Errorf("%s read back by the next start: %q, want %q", k, again[k], v)
		}
	}
}
