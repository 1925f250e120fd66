package portal

import (
	"strings"
	"testing"
)

// TestValidTextCountsCharacters: the limit a message states in characters
// is counted in characters, so a reason in Welsh or with accents is not
// refused at half its length.
func TestValidTextCountsCharacters(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{strings.Repeat("ŵ", 2000), true},
		{strings.Repeat("a", 2000), true},
		{strings.Repeat("ŵ", 2001), false},
		{strings.Repeat("😀", 2000), true},
	} {
		err := validText("reason", c.text, 2000)
		if (err == nil) != c.ok {
			t.Errorf("%d characters (%d bytes): %v, want ok=%v", len([]rune(c.text)), len(c.text), err, c.ok)
		}
	}
}
