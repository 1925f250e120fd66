package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
)

// visitPageSize is how many files a page of the visit page lists.
const visitPageSize = 50

// fileFind is the visit page's search, filters, order and paging of files.
type fileFind struct {
	Search, Item, Uploader, From, To, Sort string
	Typed                                  string // the search box as typed (a search refused is not Search)
	Filtered                               bool   // any filter or search is set
	Errors                                 map[string]string
	Dates                                  *form // the day, month and year of From and To
	Items                                  []string
	Uploaders                              []portal.Uploader
	Sorts                                  []sortChoice
	Total, Start, End                      int
	Next, Prev, Clear                      string // addresses of pages
}

type sortChoice struct{ Value, Label string }

// filterInputs is the input each filter's error links to.
var filterInputs = map[string]string{"q": "file-search", "from": "from-day", "to": "to-day", "uploader": "file-uploader", "sort": "file-sort"}

var sortLabels = map[string]string{
	portal.SortName: "Name (A to Z)", portal.SortNameDesc: "Name (Z to A)",
	portal.SortNewest: "Newest first", portal.SortOldest: "Oldest first",
}

// parseFileQuery reads a page of files from the query string: q, item,
// uploader, from and to (YYYY-MM-DD), sort and after. A filter that does
// not parse is left out and reported by its field.
func parseFileQuery(c *gin.Context) (portal.FileQuery, map[string]string) {
	q := portal.FileQuery{After: c.Query("after"), Search: c.Query("q"), Item: strings.TrimSpace(c.Query("item")),
		Uploader: c.Query("uploader"), Sort: c.Query("sort"), Versions: c.Query("versions") == "1"}
	errs := map[string]string{}
	day := func(field, what string) time.Time {
		v := strings.TrimSpace(c.Query(field))
		if v == "" && c.Query(field+"-day")+c.Query(field+"-month")+c.Query(field+"-year") != "" {
			// The page's GOV.UK date input: day, month and year apart.
			f := &form{}
			d, ok := f.dateField(c.Query, field, "The "+what, false)
			if !ok {
				errs[field] = f.Errors[0].Msg
				return time.Time{}
			}
			v = d
		}
		if v == "" {
			return time.Time{}
		}
		d, err := calendar.ParseDate(v)
		if err != nil {
			errs[field] = "Enter the " + what + " as a real date, for example 2026-09-21"
		}
		return d
	}
	q.From, q.To = day("from", "first day"), day("to", "last day")
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		errs["to"] = "The last day must be the same as or after the first day"
		q.To = time.Time{}
	}
	if portal.SearchTooLong(q.Search) {
		// Longer than any name: reported by the box, and left out.
		errs["q"] = "Search for " + portal.NameLength + ": no file's name is longer"
		q.Search = ""
	}
	if q.Sort != "" && !slices.Contains(portal.FileSorts, q.Sort) {
		errs["sort"] = "Choose an order from the list"
		q.Sort = ""
	}
	if q.Uploader != "" && !portal.IsID(q.Uploader) {
		errs["uploader"] = "Choose a person from the list"
		q.Uploader = ""
	}
	return q, errs
}

// findFiles fills the visit page's list of files: one page of 50 in the
// order and with the filters asked for, and the controls that change them.
func (s *Server) findFiles(c *gin.Context, acc *portal.Access, page gin.H) (portal.FilePage, error) {
	q, errs := parseFileQuery(c)
	q.Limit, q.Controls = visitPageSize, true
	fp, err := acc.FilePage(c.Request.Context(), q)
	if err != nil {
		return fp, err
	}
	f := fileFind{Search: strings.TrimSpace(q.Search), Item: q.Item, Uploader: q.Uploader, Sort: q.Sort, Errors: errs,
		Items: fp.Items, Uploaders: fp.Uploaders, Total: fp.Total, Start: fp.Start}
	f.Typed = f.Search
	if _, long := errs["q"]; long {
		f.Typed = c.Query("q") // kept in the box, to be shortened
	}
	if !q.From.IsZero() {
		f.From = q.From.Format(time.DateOnly)
	}
	if !q.To.IsZero() {
		f.To = q.To.Format(time.DateOnly)
	}
	f.Dates = &form{}
	for field, v := range map[string]string{"from": f.From, "to": f.To} {
		if v != "" {
			f.Dates.setDate(field, v)
		} else {
			for _, p := range []string{"day", "month", "year"} {
				f.Dates.Set(field+"-"+p, strings.TrimSpace(c.Query(field+"-"+p)))
			}
		}
		if msg, ok := errs[field]; ok {
			f.Dates.Add(field, msg)
		}
	}
	if len(errs) > 0 {
		if _, refused := c.Get(formKey); !refused {
			// The filters' errors head the page as a refused form's do,
			// in the order of the fields, each linking to its input.
			top := &form{}
			for _, k := range []string{"q", "from", "to", "uploader", "sort"} {
				if msg, ok := errs[k]; ok {
					top.Errors = append(top.Errors, fieldError{Field: filterInputs[k], Msg: msg, Whole: true})
				}
			}
			c.Set(formKey, top)
			c.Set(formStatusKey, http.StatusBadRequest)
		}
	}
	f.Filtered = f.Search != "" || f.Item != "" || f.Uploader != "" || f.From != "" || f.To != "" || len(errs) > 0
	if fp.Start > 0 {
		f.End = fp.Start + len(fp.Files) - 1
	}
	for _, v := range portal.FileSorts {
		f.Sorts = append(f.Sorts, sortChoice{v, sortLabels[v]})
	}
	base := "/visits/" + acc.Visit.ID
	link := func(after string) string {
		v := url.Values{}
		for k, val := range map[string]string{"q": f.Search, "item": f.Item, "uploader": f.Uploader, "from": f.From, "to": f.To, "sort": f.Sort, "after": after} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if q.Versions {
			v.Set("versions", "1")
		}
		if len(v) == 0 {
			return base + "#files"
		}
		return base + "?" + v.Encode() + "#files"
	}
	if fp.Next != "" {
		f.Next = link(fp.Next)
	}
	if fp.HasPrev {
		f.Prev = link(fp.Prev)
	}
	f.Clear = base + "#files"
	page["Find"] = f
	page["FileTotal"], page["Search"] = fp.Total, f.Search
	return fp, nil
}

// viewable says whether a file may be offered for viewing in the browser
// (?disposition=inline), from its name: the download checks its first
// bytes before it serves it so.
func viewable(name string) bool {
	return inlineType(name) != ""
}
