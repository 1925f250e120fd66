package web

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// TestFilePageJSONAsEncodingJSON: the file list's hand-written JSON is
// encoding/json's, byte for byte, over 3,000 seeded pages whose every
// field (found by reflection, so a field added to the types later is
// filled too, and fails here until the writer knows it) takes plain,
// empty and hostile values: names a person chose, with quotes, HTML,
// control characters, line separators, accents and invalid UTF-8, and
// times in other zones, with and without nanoseconds.
func TestFilePageJSONAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 12))
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	strs := []string{"", "1.03", "01KB6Z3N8QF0W9X2Y4C7D5E1AB", "case-19 (final).pdf", `<script>alert("x")</script> & 'q' + a\b`,
		"tab\there\nnew\rline\x00\x1f\b\f\x7f", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf-8", "clean", "Eicar-Signature",
		// each character that is escaped, alone in a plain name
		"a<b", "a>b", "R&D.pdf", `say "hi"`, `C:\\dir`, "del\x7f", "bell\x07", "na\u00efve", "line\u2028sep"}
	times := []time.Time{
		time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC),
		time.Date(2026, 7, 1, 9, 30, 0, 123456789, london),
		time.Date(2026, 1, 1, 0, 0, 0, 120000000, time.FixedZone("", -5*3600-30*60)),
		{},
	}
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		switch v.Interface().(type) {
		case time.Time:
			v.Set(reflect.ValueOf(times[rng.IntN(len(times))]))
			return
		case *time.Time:
			if rng.IntN(2) == 0 {
				tm := times[rng.IntN(len(times))]
				v.Set(reflect.ValueOf(&tm))
			}
			return
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(strs[rng.IntN(len(strs))])
		case reflect.Int, reflect.Int64:
			v.SetInt(rng.Int64N(1<<40) - 5)
		case reflect.Bool:
			v.SetBool(rng.IntN(2) == 0)
		case reflect.Struct:
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		case reflect.Slice:
			switch n := rng.IntN(5); n {
			case 0: // nil
			default:
				s := reflect.MakeSlice(v.Type(), n-1, n-1)
				for i := range n - 1 {
					fill(s.Index(i))
				}
				v.Set(s)
			}
		default:
			t.Fatalf("no filler for %s", v.Type())
		}
	}
	for i := range 3000 {
		var p portal.FilePage
		fill(reflect.ValueOf(&p).Elem())
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendFilePage(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("page %d:\n got %s\nwant %s", i, got, want)
		}
	}
	// A time encoding/json refuses is refused here too.
	bad := portal.FilePage{Files: []portal.FileView{{UploadedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}}
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("encoding/json took a year past 9999")
	}
	if _, err := appendFilePage(nil, bad); err == nil {
		t.Fatal("a year past 9999 was written")
	}
}
