package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/receipt"
	"github.com/ofsted-portal/evidence/portal/scan"
	"github.com/ofsted-portal/evidence/portal/timeline"
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
		return t.In(calendar.London).Format("2 January 2006 15:04 MST")
	},
	// rfc3339 is an instant as a form sends it back (to the nanosecond).
	"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"bytes":      humanBytes,
	"dict":       dict,
	"list":       func(v ...string) []string { return v },
	"eventLabel": eventLabel,
	"viewable":   viewable,
	"person":     portal.PersonName,
	"longDate": func(d string) string {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return d
		}
		return t.Format("Monday 2 January 2006")
	},
	"stateName": stateName,
	"stateTag":  stateTag,
	"eventName": func(e string) string {
		return strings.ToUpper(e[:1]) + strings.ReplaceAll(e[1:], "_", " ")
	},
	"roleName":    roleName,
	"receiptName": receiptName,
	// unreadable: the scanner's finding is that it could not look inside
	// the file, not malware found in it.
	"unreadable": scan.Unreadable,
	// tooLargeToScan: a file the scanner never checks (it waits for an
	// administrator's release).
	"tooLargeToScan": func(size int64) bool { return size > scan.MaxSize },
}

// receiptName says which receipt a link of the visit page's list is for,
// after "Print" or "Download (JSON)": receipts issued in the same minute
// differ by their kind and their files.
func receiptName(r portal.ReceiptView) string {
	at := ", issued " + r.IssuedAt.In(calendar.London).Format("2 January 2006 15:04 MST")
	switch {
	case len(r.Files) == 0:
		return "the receipt" + at
	case r.Kind == receipt.KindBatch && len(r.Files) == 1:
		return "the batch receipt for " + r.Files[0].Name + at
	case r.Kind == receipt.KindBatch:
		return fmt.Sprintf("the batch receipt for %d files beginning with %s", len(r.Files), r.Files[0].Name) + at
	}
	f := r.Files[0]
	item := ""
	if f.Item != "" {
		item = " (item " + f.Item + ")"
	}
	return "the upload receipt for " + f.Name + item + at
}

// stateName is a visit's state in words.
func stateName(s string) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return s
}

// stateTag is the GOV.UK tag colour of a visit's state.
func stateTag(s string) string {
	switch s {
	case timeline.Collecting, timeline.Fieldwork:
		return "govuk-tag--blue"
	case timeline.Reporting, timeline.Preparing:
		return "govuk-tag--grey"
	case portal.StateComplaint:
		return "govuk-tag--orange"
	case portal.StatePublished:
		return "govuk-tag--green"
	case portal.StateDestroying, portal.StateDestroyed:
		return "govuk-tag--red"
	}
	return ""
}

var stateNames = map[string]string{
	timeline.Preparing: "Preparing", timeline.Collecting: "Collecting evidence", timeline.Fieldwork: "Fieldwork", timeline.Reporting: "Reporting",
	portal.StateComplaint: "Complaint open", portal.StatePublished: "Published", portal.StateDestroying: "Being destroyed", portal.StateDestroyed: "Destroyed",
}

// Templates are embedded and parsed once at start-up: a broken template
// stops the portal from starting rather than failing a request later.

// Templates parses every page with the layout.
func Templates() (*Pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// A file whose name holds "_" (visit_find.html, layout_footer.html) is
	// a part: it defines templates that pages include, and is parsed into
	// every page rather than being one.
	var parts []string
	for _, n := range names {
		if strings.Contains(path.Base(n), "_") {
			parts = append(parts, n)
		}
	}
	p := &Pages{pages: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "forms" || strings.Contains(base, "_") {
			continue // shared, or a part
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, append([]string{"templates/layout.html", "templates/forms.html", n}, parts...)...)
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
	b := pageBuffers.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= maxPooledPage {
			b.Reset()
			pageBuffers.Put(b)
		}
	}()
	if err := t.Execute(b, data); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	_, err := b.WriteTo(w)
	return err
}

// pageBuffers hold pages while they render (whole, so that a failure
// shows the error page rather than half of one). Grown from nothing on
// each request, a page of 50 visits (about 60 KB) allocated over three
// times its size; a buffer larger than maxPooledPage goes to the
// collector instead.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledPage = 1 << 20

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

// roleName is a role in words.
func roleName(r string) string {
	switch r {
	case policy.RoleLeadInspector:
		return "Lead inspector"
	case policy.RoleInspector:
		return "Inspector"
	case policy.RoleQAManager:
		return "Quality assurance manager"
	case policy.RoleAnalyst:
		return "Analyst (SAO)"
	case policy.RoleProviderCoordinator:
		return "Provider coordinator"
	case policy.RoleProviderUploader:
		return "Provider uploader"
	case "administrator":
		return "Administrator"
	case "system":
		return "the portal itself"
	case "operator":
		return "Operator"
	}
	return strings.ReplaceAll(r, "_", " ")
}
