package mail

import (
	"strings"
	"testing"
)

func TestRenderEveryKind(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatal(err)
	}
	r, err := Render(Message{Kind: "provider_digest", Reference: "FV-1", Due: 2, Overdue: 1, Date: "Tuesday 8 September 2026", Link: "https://p/visits/x/request", Settings: "https://p/notifications"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "FV-1: 2 items due by Tuesday 8 September 2026, 1 overdue" || !strings.Contains(r.Text, "- 2 items are due by the end of Tuesday 8 September 2026\n- 1 item has become overdue") ||
		!strings.Contains(r.HTML, `<a href="https://p/notifications"`) {
		t.Fatalf("%+v", r)
	}
}

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Endpoint
		bad  bool
	}{
		{in: "smtp://relay.example", want: Endpoint{Host: "relay.example", Port: 587, TLS: "starttls"}},
		{in: "smtps://portal@relay.example:2465", want: Endpoint{Host: "relay.example", Port: 2465, TLS: "implicit", Username: "portal"}},
		{in: "smtp://127.0.0.1:1025?tls=none", want: Endpoint{Host: "127.0.0.1", Port: 1025, TLS: "none"}},
		{in: "smtp://relay.example?tls=none", bad: true},
		{in: "smtp://u:secret@relay.example", bad: true},
		{in: "http://relay.example", bad: true},
		{in: "smtp://relay.example:0", bad: true},
		{in: "smtps://relay.example?tls=none", bad: true},
	} {
		got, err := ParseURL(c.in)
		if (err != nil) != c.bad || !c.bad && got != c.want {
			t.Errorf("ParseURL(%q) = %+v, %v", c.in, got, err)
		}
	}
}
