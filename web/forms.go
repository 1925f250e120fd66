package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// Forms follow the GOV.UK pattern: a form that is refused is shown again on
// its own page, with what was typed, an error summary at the top linking to
// each field at fault and the message by the field; a form that succeeds
// redirects (post/redirect/get) to a page that confirms it in a
// notification banner (the flash, kept in the session for one page).

// form is a submitted form as its page shows it again.
type form struct {
	values map[string]string
	Errors []fieldError
}

// fieldError is a message for one field; Field is the id of the input the
// error summary links to. Whole marks an error about a date input as a
// whole (31 February), which highlights all its inputs, not just Field.
type fieldError struct {
	Field, Msg string
	Whole      bool
}

const (
	formKey       = "form"
	formStatusKey = "form_status"
	flashKey      = "flash"
)

// postedForm reads the named fields of a posted form.
func postedForm(c *gin.Context, fields ...string) *form {
	f := &form{values: map[string]string{}}
	for _, k := range fields {
		f.values[k] = c.PostForm(k)
	}
	return f
}

// Value is what was typed in field k ("" on a fresh page).
func (f *form) Value(k string) string {
	if f == nil {
		return ""
	}
	return f.values[k]
}

// Set records a value to show again.
func (f *form) Set(k, v string) {
	if f.values == nil {
		f.values = map[string]string{}
	}
	f.values[k] = v
}

// Err is the message for field k, if any: every error on it, in turn (the
// upload form's input names each file refused).
func (f *form) Err(k string) string {
	if f == nil {
		return ""
	}
	var msgs []string
	for _, e := range f.Errors {
		if e.Field == k || strings.HasPrefix(e.Field, k+"-") {
			msgs = append(msgs, e.Msg)
		}
	}
	return strings.Join(msgs, " ")
}

// Add records an error on a field.
func (f *form) Add(field, msg string) {
	f.Errors = append(f.Errors, fieldError{Field: field, Msg: msg})
}

// PartErr reports whether the part ("day", "month", "year") of the date
// input name is at fault: the GOV.UK pattern highlights only the input at
// fault, or all three when the date as a whole is wrong (an error on the
// input as a whole, name, is one).
func (f *form) PartErr(name, part string) bool {
	if f == nil {
		return false
	}
	for _, e := range f.Errors {
		if e.Field == name+"-"+part || e.Field == name || e.Whole && strings.HasPrefix(e.Field, name+"-") {
			return true
		}
	}
	return false
}

// formStatus is the status a refused form is shown again with, or 0 when
// err is not one a person can put right on the form (it gets the error
// page instead).
func formStatus(err error) int {
	switch he := toHTTPError(err); he.status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusLocked, http.StatusRequestEntityTooLarge:
		return he.status
	}
	return 0
}

// refuse shows the page again (get, the page's own GET handler) with err
// on the form: an invalid value by its field (fields maps the domain's
// field names to the form's inputs), any other refusal on field at. An
// error no form can put right gets the error page.
func (s *Server) refuse(c *gin.Context, f *form, err error, fields map[string]string, at string, get gin.HandlerFunc) {
	status := formStatus(err)
	if status == 0 {
		s.fail(c, err)
		return
	}
	field := at
	if e, ok := portal.AsError(err); ok && e.Field != "" && fields[e.Field] != "" {
		field = fields[e.Field]
	}
	f.Add(field, toHTTPError(err).msg)
	s.showForm(c, f, status, get)
}

// showForm renders the page again, by its GET handler, with the form.
func (s *Server) showForm(c *gin.Context, f *form, status int, get gin.HandlerFunc) {
	if c.Request.Body != nil && c.Request.ContentLength != 0 && status >= 400 {
		// As fail does: the body may not have been read to its end.
		c.Header("Connection", "close")
	}
	c.Set(formKey, f)
	c.Set(formStatusKey, status)
	get(c)
}

// formOf is the form being shown again, or an empty one.
func formOf(c *gin.Context) *form {
	if f, ok := c.Get(formKey); ok {
		return f.(*form)
	}
	return &form{}
}

// flash confirms a success on the next page the person sees.
func (s *Server) flash(c *gin.Context, msg string) {
	s.sessions.Put(c.Request.Context(), flashKey, msg)
}

// dateField reads a GOV.UK date input (name-day, name-month, name-year)
// with get (c.PostForm, or c.Query for a filter): "" when all three are
// empty, else YYYY-MM-DD; what is wrong is added to the form, in GOV.UK's
// words, naming the field as label does.
func (f *form) dateField(get func(string) string, name, label string, required bool) (string, bool) {
	parts := [3]string{}
	for i, p := range []string{"day", "month", "year"} {
		parts[i] = strings.TrimSpace(get(name + "-" + p))
		f.Set(name+"-"+p, parts[i])
	}
	if parts == [3]string{} {
		if required {
			f.Add(name+"-day", "Enter "+lowerFirst(label))
			return "", false
		}
		return "", true
	}
	for i, p := range []string{"day", "month", "year"} {
		if parts[i] == "" {
			f.Add(name+"-"+p, label+" must include a "+p)
			return "", false
		}
	}
	// Digits only: Atoi would take "+7" or "-3" as numbers.
	digits := func(s string) bool { return strings.Trim(s, "0123456789") == "" }
	if digits(parts[2]) && len(parts[2]) != 4 {
		f.Add(name+"-year", label+" must include a year with 4 numbers")
		return "", false
	}
	d, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	y, err3 := strconv.Atoi(parts[2])
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if err1 != nil || err2 != nil || err3 != nil || !digits(parts[0]) || !digits(parts[1]) || !digits(parts[2]) ||
		y < 1000 || t.Day() != d || int(t.Month()) != m {
		f.Errors = append(f.Errors, fieldError{Field: name + "-day", Msg: label + " must be a real date", Whole: true})
		return "", false
	}
	return t.Format(time.DateOnly), true
}

// setDate shows a YYYY-MM-DD date in a GOV.UK date input.
func (f *form) setDate(name, date string) {
	t, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return
	}
	f.Set(name+"-day", strconv.Itoa(t.Day()))
	f.Set(name+"-month", strconv.Itoa(int(t.Month())))
	f.Set(name+"-year", strconv.Itoa(t.Year()))
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// dict builds a map for a template that takes several values.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := map[string]any{}
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
