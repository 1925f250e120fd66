package web

import (
	"html/template"
	"strings"
	"testing"
)

// The row of the list of visits as visits.html wrote it before the rows
// were written in Go (visitrows.go), with the row of a visit whose
// member's access window is not open (Withheld) since.
const visitRowTemplate = `{{range .}}
  <tr class="govuk-table__row">
    <td class="govuk-table__cell" data-label="Visit"><a class="govuk-link" href="/visits/{{.ID}}">{{.Reference}}</a><br><span class="govuk-body-s">{{.Title}}</span></td>
    <td class="govuk-table__cell" data-label="State"><strong class="govuk-tag {{if .Withheld}}govuk-tag--grey{{else}}{{stateTag .State}}{{end}}">{{if .Withheld}}{{.Withheld}}{{else}}{{stateName .State}}{{end}}</strong></td>
    <td class="govuk-table__cell" data-label="Next due">{{if .Withheld}}Not shown{{else if .NextDue}}{{.NextDue}}<br><span class="govuk-body-s">{{.NextDueDate}}</span>{{else}}Nothing due{{end}}</td>
    <td class="govuk-table__cell" data-label="Destruction">{{if .Withheld}}Not shown{{else if .DestroyOn}}{{.DestroyOn}}<br><span class="govuk-body-s">{{.DueIn}}</span>{{else}}After publication{{end}}</td>
    <td class="govuk-table__cell" data-label="Your role">{{if .Role}}{{roleName .Role}}{{else}}Administrator{{end}}</td>
  </tr>
  {{end}}`

// TestVisitRowsAsTheTemplate: the rows written in Go are the template's,
// byte for byte, for every state and role, with and without dates due,
// and over text that must be escaped (a title is whatever an
// administrator typed).
func TestVisitRowsAsTheTemplate(t *testing.T) {
	tmpl := template.Must(template.New("rows").Funcs(funcs).Parse(visitRowTemplate))
	hostile := `<script>alert("x")</script> & 'quoted' + a+b` + "\x00 caf\u00e9 \xff"
	var rows []visitRow
	for i, st := range append(stateList(), "unknown", hostile) {
		r := visitRow{ID: "01KB6Z3N8QF0W9X2Y4C7D5E1AB", Reference: "FV-2026-0" + st[:1], Title: "Seeded visit " + st, State: st,
			NotificationDate: "2026-11-02"}
		if i%2 == 0 {
			r.NextDue, r.NextDueDate = "Draft letter", "Mon 7 Dec 2026"
		}
		if i%3 != 0 {
			r.DestroyOn, r.DueIn = "2027-05-01", []string{"in 150 days", "today", "past its date", "from 7 Jan 10:05", hostile}[i%5]
		}
		if i%4 != 3 {
			r.Role = []string{"lead_inspector", "inspector", "provider_uploader", hostile}[i%4]
		}
		rows = append(rows, r)
	}
	rows = append(rows, visitRow{ID: "01KB6Z3N8QF0W9X2Y4C7D5E1AC", Reference: "FV-2026-0W", Title: "Your access to this visit closed " + hostile, Withheld: "Access ended", Role: "inspector"},
		visitRow{ID: "01KB6Z3N8QF0W9X2Y4C7D5E1AD", Reference: hostile, Title: hostile, Withheld: hostile, Role: hostile})
	rows = append(rows, visitRow{ID: `a/b"c?d#e<f`, Reference: hostile, Title: hostile, State: hostile, NextDue: hostile, NextDueDate: hostile, DestroyOn: hostile, Role: hostile})
	for _, n := range []int{0, 1, len(rows)} {
		var want strings.Builder
		if err := tmpl.Execute(&want, rows[:n]); err != nil {
			t.Fatal(err)
		}
		got := string(visitRowsHTML(rows[:n]))
		if n == len(rows) {
			// The last row's id is no visit's: html/template normalises it
			// as a URL (leaving / ? # as they are), the rows escape it as
			// one path segment. Compare the rest.
			const id = `a/b"c?d#e<f`
			w, g := want.String(), got
			wi, gi := strings.LastIndex(w, `href="/visits/`), strings.LastIndex(g, `href="/visits/`)
			if !strings.Contains(g[gi:], `href="/visits/a%2Fb%22c%3Fd%23e%3Cf"`) {
				t.Errorf("an id is not escaped as a path segment: %q", g[gi:gi+60])
			}
			w, g = w[:wi]+w[strings.Index(w[wi:], `">`)+wi:], g[:gi]+g[strings.Index(g[gi:], `">`)+gi:]
			if w != g {
				t.Errorf("rows of %s:\ntemplate: %q\nGo:       %q", id, w, g)
			}
			continue
		}
		if got != want.String() {
			t.Errorf("%d rows:\ntemplate: %q\nGo:       %q", n, want.String(), got)
		}
	}
	if strings.Contains(string(visitRowsHTML(rows)), "<script>") {
		t.Error("a title's markup reaches the page")
	}
}

func stateList() []string {
	var out []string
	for s := range stateNames {
		out = append(out, s)
	}
	return out
}
