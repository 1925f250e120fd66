package portal

import (
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// fakeReader is what an act's transaction would read: the file f1 with
// the scanner's verdict scan, filed under 1.01, no item restricted.
type fakeReader struct{ scan string }

func (r fakeReader) File(_ context.Context, visitID, fileID string) (store.File, error) {
	return store.File{ID: fileID, VisitID: visitID, Item: "1.01", Scan: r.scan}, nil
}

func (fakeReader) Restrictions(context.Context, string) ([]store.Restriction, error) {
	return nil, nil
}

func (fakeReader) Question(context.Context, string, string) (store.Question, error) {
	return store.Question{}, store.ErrNotFound
}

// notesTested is a service that works out notifications alone.
func notesTested(t *testing.T) *Service {
	t.Helper()
	eng, err := policy.New()
	if err != nil {
		t.Fatal(err)
	}
	return &Service{policy: eng}
}

// notes is what r calls for, the file as it stands having scan.
func notes(t *testing.T, s *Service, scan string, r store.AuditRecord) []store.Outgoing {
	t.Helper()
	out, err := s.notesFor(context.Background(), fakeReader{scan: scan}, r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFilesArrivedCountsFilesTheLeadSees: the lead inspector's "files
// received" digest counts a file once the team may see it: at its upload
// when the scanner cleared it then (or scanning is off), else when the
// scanner clears it later; never one found infected, nor one still
// waiting for the scanner. Before, every upload counted: the lead was
// told of files withheld from them, and of infected ones they never see.
func TestFilesArrivedCountsFilesTheLeadSees(t *testing.T) {
	s := notesTested(t)
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	rec := func(action, detail string) store.AuditRecord {
		return store.AuditRecord{Time: at, VisitID: "v1", Action: action, Object: "f1", Outcome: "success", Detail: detail}
	}
	for _, c := range []struct {
		name string
		scan string // the file's, as the act leaves it
		r    store.AuditRecord
		want int
	}{
		{"uploaded, cleared at once", "clean", rec("upload.completed", `{"scan":"clean"}`), 1},
		{"uploaded, scanning off", "unscanned", rec("upload.completed", `{"scan":"unscanned"}`), 1},
		{"uploaded before the scan was recorded", "", rec("upload.completed", `{}`), 1},
		{"uploaded, infected at once", "infected", rec("upload.completed", `{"scan":"infected"}`), 0},
		{"uploaded, waiting for the scanner", "scanning", rec("upload.completed", `{"scan":"scanning"}`), 0},
		{"cleared by the scanner later", "clean", rec("file.scanned", `{"scan":"clean","was":"scanning"}`), 1},
		{"stored with scanning off, cleared when it was turned on", "clean", rec("file.scanned", `{"scan":"clean","was":"unscanned"}`), 0},
		{"released by an operator, unscanned", "unscanned", store.AuditRecord{Time: at, VisitID: "v1", Action: "file.scan_released", Object: "f1", Outcome: "success"}, 1},
	} {
		n := 0
		for _, o := range notes(t, s, c.scan, c.r) {
			if o.Kind == NoteFilesArrived {
				n++
			}
		}
		if n != c.want {
			t.Errorf("%s: %d files-received notes, want %d", c.name, n, c.want)
		}
	}
}

// TestDestructionNoticeMailsWhenTheSweepMay: the notice of a destruction
// given late (again after a legal hold was lifted two days before the
// date, say) tells the administrators the date the sweep may destroy the
// visit from, not the date it was due: before, the mail said the 31st
// while the notice held the destruction back to the 7th.
func TestDestructionNoticeMailsWhenTheSweepMay(t *testing.T) {
	s := notesTested(t)
	for _, c := range []struct{ after, want string }{
		{"2026-01-07T10:05:00Z", "2026-01-07"},
		{"2025-12-31T00:00:00Z", "2025-12-31"}, // given in time: the date itself
	} {
		out := notes(t, s, "", store.AuditRecord{Action: "destruction.notice", Outcome: "success", VisitID: "v", Time: time.Date(2025, 12, 29, 10, 0, 0, 0, time.UTC),
			Detail: `{"destroy_on":"2025-12-31","notice_period":"168h0m0s","destroy_after":"` + c.after + `"}`})
		if len(out) != 1 || out[0].Data["date"] != c.want {
			t.Errorf("destroy after %s: the notice's mail says %+v, want the date %s", c.after, out, c.want)
		}
	}
}
