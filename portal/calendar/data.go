package calendar

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// load applies the lines of one data file in order. src names the file in
// errors.
func (c *Calendar) load(src string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		if err := c.apply(sc.Text()); err != nil {
			return fmt.Errorf("calendar: %s line %d: %w", src, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("calendar: %s line %d: %w", src, n+1, err)
	}
	return nil
}

// apply applies one line: "YYYY-MM-DD add|remove <name>", "YYYY covered",
// blank, or comment.
func (c *Calendar) apply(line string) error {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	if len(f) == 2 && f[1] == "covered" {
		y, err := strconv.Atoi(f[0])
		if err != nil || len(f[0]) != 4 || y < 1000 {
			return fmt.Errorf("%q is not a year in the form YYYY", f[0])
		}
		c.covered[y] = true
		return nil
	}
	if len(f) < 3 {
		return fmt.Errorf("want \"YYYY-MM-DD add <name>\", \"YYYY-MM-DD remove <name>\" or \"YYYY covered\", got %q", strings.TrimSpace(line))
	}
	d, err := ParseDate(f[0])
	if err != nil {
		return fmt.Errorf("%q is not a real date in the form YYYY-MM-DD", f[0])
	}
	name := strings.Join(f[2:], " ")
	if strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) || r == unicode.ReplacementChar }) >= 0 {
		return fmt.Errorf("the name %q has a character that is not printable text", name)
	}
	switch f[1] {
	case "add":
		if isWeekend(d) {
			return fmt.Errorf("%s is a %s: a holiday on a weekend changes nothing; add the weekday it is observed on", f[0], d.Weekday())
		}
		c.added[d] = name
		delete(c.removed, d)
	case "remove":
		if !c.IsHoliday(d) {
			return fmt.Errorf("%s is not a bank holiday here, so there is nothing to remove", f[0])
		}
		c.removed[d] = true
		delete(c.added, d)
	default:
		return fmt.Errorf("%q must be add or remove", f[1])
	}
	return nil
}

func isWeekend(d time.Time) bool {
	return d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
}
