package web

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// TestPrivacyNoticeTemplate: until the operator completes it, the privacy
// notice says so and marks each missing part; completed, it shows the
// operator's values and no warning.
func TestPrivacyNoticeTemplate(t *testing.T) {
	pages, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	render := func(info publicInfo) string {
		var b bytes.Buffer
		if err := pages.Render(&b, "privacy", pageData{Title: "Privacy notice", Page: info}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	empty := render(publicInfo{RetentionDays: 30, PrivacyIncomplete: true})
	if !strings.Contains(empty, `id="privacy-incomplete"`) || strings.Count(empty, "not given") < 3 {
		t.Fatalf("an incomplete notice does not say so:\n%s", empty)
	}
	svc := portal.ServiceInfo{Controller: "Ofsted", PrivacyContact: "dpo@ofsted.example", Retention: "Kept for 6 years."}
	full := render(publicInfo{Service: svc, RetentionDays: 30})
	for _, want := range []string{"Ofsted", "mailto:dpo@ofsted.example", "Kept for 6 years.", "then for 30 days"} {
		if !strings.Contains(full, want) {
			t.Errorf("the notice lacks %q", want)
		}
	}
	if strings.Contains(full, "privacy-incomplete") || strings.Contains(full, "not given") {
		t.Fatal("a completed notice says it is incomplete")
	}
}

func TestDurationWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "30 minutes", 12 * time.Hour: "12 hours", time.Hour: "1 hour", 20 * time.Second: "20 seconds",
		90 * time.Second: "90 seconds", time.Minute: "1 minute",
	} {
		if got := durationWords(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
