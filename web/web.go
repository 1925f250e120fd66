// Package web holds the portal's templates and static assets, embedded in the
// binary. Templates are parsed once at start-up: a broken template stops the
// portal from starting rather than failing a request later.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Static is the tree served under /static/.
func Static() fs.FS {
	sub, _ := fs.Sub(staticFS, "static")
	return sub
}

// Pages renders named pages inside the layout.
type Pages struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"date": func(t interface {
		IsZero() bool
		Format(string) string
	}) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("Monday 2 January 2006")
	},
	"datetime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(london).Format("2 January 2006 15:04 MST")
	},
	"bytes": humanBytes,
	"longDate": func(d string) string {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return d
		}
		return t.Format("Monday 2 January 2006")
	},
	"stateName": func(s string) string {
		if n, ok := stateNames[s]; ok {
			return n
		}
		return s
	},
	"stateTag": func(s string) string {
		switch s {
		case "collecting", "fieldwork":
			return "govuk-tag--blue"
		case "reporting", "preparing":
			return "govuk-tag--grey"
		case "complaint":
			return "govuk-tag--orange"
		case "published":
			return "govuk-tag--green"
		case "destroying", "destroyed":
			return "govuk-tag--red"
		}
		return ""
	},
	"eventName": func(e string) string {
		return strings.ToUpper(e[:1]) + strings.ReplaceAll(e[1:], "_", " ")
	},
	"roleName": func(r string) string {
		switch r {
		case "lead_inspector":
			return "Lead inspector"
		case "inspector":
			return "Inspector"
		case "qa_manager":
			return "Quality assurance manager"
		case "analyst":
			return "Analyst (SAO)"
		case "provider_coordinator":
			return "Provider coordinator"
		case "provider_uploader":
			return "Provider uploader"
		}
		return strings.ReplaceAll(r, "_", " ")
	},
}

// london is the time zone every date and time is shown in.
var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

var stateNames = map[string]string{
	"preparing": "Preparing", "collecting": "Collecting evidence", "fieldwork": "Fieldwork", "reporting": "Reporting",
	"complaint": "Complaint open", "published": "Published", "destroying": "Being destroyed", "destroyed": "Destroyed",
}

// Templates parses every page with the layout.
func Templates() (*Pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{pages: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", n, err)
		}
		p.pages[base] = t
	}
	return p, nil
}

// Render writes a page. It renders into a buffer first so that a template
// error never sends half a page.
func (p *Pages) Render(w io.Writer, name string, data any) error {
	t, ok := p.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	_, err := b.WriteTo(w)
	return err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
