package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestNoFieldCutsWhatIsTyped: no input or text box has maxlength, which
// the browser enforces by dropping, without a word, what is typed or
// pasted beyond it (the Design System advises against it): the server
// refuses a value too long with a message, and keeps it to be shortened.
// Before, a visit's title pasted at 250 characters was sent cut at 200,
// and a question pasted at 2,500 characters lost its end.
func TestNoFieldCutsWhatIsTyped(t *testing.T) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		t.Fatal(err)
	}
	field := regexp.MustCompile(`<(input|textarea)[^>]*>`)
	for _, name := range names {
		b, err := fs.ReadFile(templateFS, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range field.FindAllString(string(b), -1) {
			if strings.Contains(tag, "maxlength") {
				t.Errorf("%s: %s cuts what is typed beyond its maxlength", name, tag)
			}
		}
	}
}
