package calendar

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// builtin is the announced exceptions to the rules for England and Wales.
//
//go:embed england-and-wales.txt
var builtin string

// FirstCovered and LastCovered bound the years whose announced exceptions the
// built-in data is kept up to date for.
const (
	FirstCovered = 2018
	LastCovered  = 2035
)

// Holiday is one bank holiday.
type Holiday struct {
	Date time.Time // midnight UTC
	Name string
}

// Calendar answers working-day questions for England and Wales.
type Calendar struct {
	added   map[time.Time]string // holidays by data, with their names
	removed map[time.Time]bool   // rule holidays that data cancelled
	covered map[int]bool         // years beyond the built-in ones that data vouches for
	rules   sync.Map             // year -> map[time.Time]Holiday: the rules, computed once a year
	working sync.Map             // year -> []bool: working days by day of the year
}

// New returns the calendar from the rules, the built-in exceptions and then
// each extra file in turn, in the format of england-and-wales.txt:
//
//	# comment
//	YYYY-MM-DD add <name>
//	YYYY-MM-DD remove <name>
//	YYYY covered
//
// "YYYY covered" says that the file lists every exception announced for
// the year YYYY (checked against GOV.UK), so the calendar vouches for it
// (Covered) as it does for the built-in years. Later lines win, across files too, so an operator can add a newly announced
// holiday or undo one. A line that does not parse, an added day on a weekend,
// or a removed day that is not a holiday at that point is an error naming the
// file and line: a typo in holiday data would silently shift every deadline.
func New(extra ...io.Reader) (*Calendar, error) {
	c := &Calendar{added: map[time.Time]string{}, removed: map[time.Time]bool{}, covered: map[int]bool{}}
	if err := c.load("built-in data", strings.NewReader(builtin)); err != nil {
		return nil, err
	}
	for i, r := range extra {
		if err := c.load(fmt.Sprintf("extra file %d", i+1), r); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Load is New with one operator file, named by path in errors.
func Load(path string) (*Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	defer f.Close()
	c, err := New()
	if err != nil {
		return nil, err
	}
	if err := c.load(path, f); err != nil {
		return nil, err
	}
	return c, nil
}

// Covered reports whether the calendar vouches for year: whether the
// built-in data is kept up to date with the exceptions announced for it, or
// operator data says it lists them ("YYYY covered"). Outside these years
// answers come from the rules (and any operator data) alone, and an
// exception announced later would make them wrong.
func (c *Calendar) Covered(year int) bool {
	return year >= FirstCovered && year <= LastCovered || c.covered[year]
}
