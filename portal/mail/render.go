package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"text/template"
)

// Message is everything a template may show. It has no field for a name,
// a title or any free text (see the package doc).
type Message struct {
	Kind      string // which message: one of Kinds
	Reference string // the visit's reference, such as FV-2026-014
	Role      string // the recipient's role, in words
	From      string // dates as "Monday 7 September 2026"
	Until     string
	Date      string
	Count     int
	Due       int // items due on the next working day
	Overdue   int // items that have become overdue
	Link      string
	SignIn    string // the portal's start page
	Settings  string // the recipient's "Your notifications" page
}

// Rendered is a message ready to send.
type Rendered struct {
	Subject, Text, HTML string
}

// Kinds are the messages there are templates for.
var Kinds = []string{"member_added", "cases_named", "provider_digest", "files_arrived", "access_closing",
	"destruction_notice", "destruction_review", "destruction_failed", "destruction_done", "legal_hold_set", "legal_hold_lifted", "file_purged",
	"questions", "publication_late"}

//go:embed templates
var files embed.FS

// Parsed once: a broken template fails the first use at start-up (Check).
var (
	textT = template.Must(template.ParseFS(files, "templates/*.txt"))
	htmlT = htmltemplate.Must(htmltemplate.ParseFS(files, "templates/*.html"))
)

// Check renders every kind once, so that start-up fails on a template that
// does not render.
func Check() error {
	for _, k := range Kinds {
		if _, err := Render(Message{Kind: k, Reference: "FV-CHECK"}); err != nil {
			return err
		}
	}
	return nil
}

// Render makes the subject and the text and HTML bodies of m.
func Render(m Message) (Rendered, error) {
	var subj, text, body, html bytes.Buffer
	if err := textT.ExecuteTemplate(&subj, m.Kind+".subject", m); err != nil {
		return Rendered{}, fmt.Errorf("mail: %s subject: %w", m.Kind, err)
	}
	if err := textT.ExecuteTemplate(&text, m.Kind+".text", m); err != nil {
		return Rendered{}, fmt.Errorf("mail: %s text: %w", m.Kind, err)
	}
	if err := textT.ExecuteTemplate(&text, "footer.text", m); err != nil {
		return Rendered{}, fmt.Errorf("mail: footer: %w", err)
	}
	if err := htmlT.ExecuteTemplate(&body, m.Kind+".html", m); err != nil {
		return Rendered{}, fmt.Errorf("mail: %s html: %w", m.Kind, err)
	}
	if err := htmlT.ExecuteTemplate(&html, "layout.html", struct {
		Message
		Subject string
		Body    htmltemplate.HTML
	}{m, subj.String(), htmltemplate.HTML(body.String())}); err != nil {
		return Rendered{}, fmt.Errorf("mail: layout: %w", err)
	}
	return Rendered{Subject: subj.String(), Text: text.String(), HTML: html.String()}, nil
}
