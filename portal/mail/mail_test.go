package mail

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer is an SMTP server on loopback that takes messages and then
// answers the command after the message with hangup: it drops the
// connection instead of answering. It returns the endpoint and a channel
// of the messages it accepted (250 after the data).
func fakeServer(t *testing.T, hangup string) (Endpoint, <-chan string) {
	return fakeServerRcpt(t, hangup, "250 ok")
}

// fakeServerRcpt is fakeServer answering rcpt to every RCPT TO.
func fakeServerRcpt(t *testing.T, hangup, rcpt string) (Endpoint, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan string, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				say := func(s string) { c.Write([]byte(s + "\r\n")) }
				say("220 fake ESMTP")
				var data strings.Builder
				inData, took := false, false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if inData {
						if line == ".\r\n" {
							inData, took = false, true
							accepted <- data.String()
							say("250 2.0.0 queued")
							continue
						}
						data.WriteString(line)
						continue
					}
					verb := strings.ToUpper(strings.Fields(line + " x")[0])
					if took && verb == hangup {
						return
					}
					if verb == hangup && hangup == "MAIL" {
						select {} // a server that stalls
					}
					switch verb {
					case "EHLO", "HELO":
						say("250 fake")
					case "DATA":
						inData = true
						say("354 go on")
					case "QUIT":
						say("221 bye")
						return
					case "RCPT":
						say(rcpt)
					default:
						say("250 ok")
					}
				}
			}()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	return Endpoint{Host: "127.0.0.1", Port: port, TLS: "none"}, accepted
}

// TestSendAcceptedIsSent: a message the server has accepted (250 after its
// data) is sent, even when the connection then fails (the reset or the
// quit that follows): reporting it unsent has it sent again, a duplicate.
func TestSendAcceptedIsSent(t *testing.T) {
	for _, hangup := range []string{"RSET", "QUIT"} {
		t.Run(hangup, func(t *testing.T) {
			ep, accepted := fakeServer(t, hangup)
			s, err := NewSender(ep, "", "Evidence portal <portal@ofsted.example>")
			if err != nil {
				t.Fatal(err)
			}
			r, err := Render(Message{Kind: "member_added", Reference: "FV-1", Role: "an inspector", SignIn: "https://p/"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), Outgoing{To: "hmi@ofsted.example", MessageID: "notification-1.a", Date: time.Now(), Rendered: r})
			select {
			case <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatal("the server accepted no message")
			}
			if err != nil {
				t.Errorf("a message the server accepted is reported unsent: %v", err)
			}
		})
	}
}

// TestSendStopsWithItsContext: a send to a server that has stalled ends
// when its context does (the portal stopping), not when the server's
// timeout runs out.
func TestSendStopsWithItsContext(t *testing.T) {
	ep, _ := fakeServer(t, "MAIL")
	s, err := NewSender(ep, "", "Evidence portal <portal@ofsted.example>")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(Message{Kind: "member_added", Reference: "FV-1", Role: "an inspector", SignIn: "https://p/"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Send(ctx, Outgoing{To: "hmi@ofsted.example", MessageID: "notification-1.a", Date: time.Now(), Rendered: r})
	if took := time.Since(start); err == nil || took > 5*time.Second {
		t.Errorf("a send to a stalled server returned %v after %s; want an error within a few seconds of its context's end", err, took.Round(time.Second))
	}
}

// TestRecipientRefusedForGood: a server that refuses the recipient for
// good (5xx to RCPT TO: no such mailbox) is reported as such, so the
// notification fails at once for administrators to see instead of being
// sent again for a day; a refusal for now (4xx) is tried again, and so is
// a refusal of the portal's own sender (its configuration).
func TestRecipientRefusedForGood(t *testing.T) {
	for _, tc := range []struct {
		rcpt    string
		forGood bool
	}{
		{"550 5.1.1 <gone@ofsted.example>: mailbox unavailable", true},
		{"553 5.1.3 bad recipient address syntax", true},
		{"450 4.2.1 mailbox busy, try later", false},
		{"451 4.3.0 temporary failure", false},
	} {
		ep, _ := fakeServerRcpt(t, "", tc.rcpt)
		s, err := NewSender(ep, "", "Evidence portal <portal@ofsted.example>")
		if err != nil {
			t.Fatal(err)
		}
		r, err := Render(Message{Kind: "member_added", Reference: "FV-1", Role: "an inspector", SignIn: "https://p/"})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), Outgoing{To: "gone@ofsted.example", MessageID: "notification-1.a", Date: time.Now(), Rendered: r})
		if err == nil {
			t.Fatalf("%q: sent", tc.rcpt)
		}
		if got := errors.Is(err, ErrRecipientRefused); got != tc.forGood {
			t.Errorf("%q: refused for good %v, want %v (%v)", tc.rcpt, got, tc.forGood, err)
		}
	}
}
