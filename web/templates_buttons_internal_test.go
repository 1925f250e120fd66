package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestSubmitButtonsIgnoreASecondClick: every button that sends a form is a
// GOV.UK button that ignores a second click within a second
// (data-prevent-double-click), as the Design System asks of buttons that
// submit. Before, a second click while the first request was on its way
// (a visit's bucket being made, a file being stored) sent the form again,
// and the page shown was the second answer: "Create visit" said the
// reference was taken though the visit had just been created, "Remove" a
// member said "Page not found", and "Ask" asked the question twice.
func TestSubmitButtonsIgnoreASecondClick(t *testing.T) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	button := regexp.MustCompile(`<button[^>]*>`)
	n := 0
	for _, name := range names {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range button.FindAllString(string(b), -1) {
			if !strings.Contains(tag, `type="submit"`) {
				continue
			}
			n++
			if !strings.Contains(tag, `data-module="govuk-button"`) || !strings.Contains(tag, `data-prevent-double-click="true"`) {
				t.Errorf("%s: %s sends its form again on a second click", name, tag)
			}
		}
	}
	if n < 20 {
		t.Fatalf("found %d submit buttons, want every page's", n)
	}
}
