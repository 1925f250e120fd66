package timeline

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSON(t *testing.T) {
	tl, err := Compute(newCalendar(t), date(t, "2026-11-03"), date(t, "2026-11-10"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(tl)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"day1":"2026-11-02","notification":"2026-11-03","data_lists_due":"2026-11-04","annex_a_due":"2026-11-06",` +
		`"cases_named":"2026-11-09","fieldwork_start":"2026-11-10","fieldwork_end":"2026-11-11",` +
		`"draft_letter_due":"2026-11-25","comments_from":"2026-11-26","comments_until":"2026-12-02",` +
		`"final_letter_due":"2026-12-11","complaints_from":"2026-12-14","complaints_until":"2026-12-18",` +
		`"publication_expected":"2026-12-23"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}

	// Through a pointer and inside another struct, as the API embeds it.
	b2, err := json.Marshal(struct {
		Timeline *Timeline `json:"timeline"`
	}{&tl})
	if err != nil || string(b2) != `{"timeline":`+want+`}` {
		t.Fatalf("embedded: %s, %v", b2, err)
	}

	var back Timeline
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != tl {
		t.Fatalf("round trip: got %+v\nwant %+v", back, tl)
	}
}

func TestUnmarshalJSONRejects(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"a timestamp", `{"day1":"2026-11-02T00:00:00Z"}`, "day1"},
		{"an impossible date", `{"annex_a_due":"2026-02-30"}`, "annex_a_due"},
		{"a number", `{"day1":20261102}`, "timeline:"},
		{"not an object", `["2026-11-02"]`, "timeline:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl Timeline
			err := json.Unmarshal([]byte(tc.in), &tl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}
