package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// ErrNotAsRecorded is a visit whose letter events or retention period, as
// the database holds them, are not what the audit trail recorded when
// they were set: its destruction date would be the database's word alone.
var ErrNotAsRecorded = fmt.Errorf("retention: the visit's letter events or retention period in the database are not what its audit trail recorded; check the trail with portal audit verify, and put the rows right (or withdraw and record the events again)")

// letterActions are the audit actions that set a visit's destruction
// date: its creation (with its retention period) and its letter events.
var letterActions = []string{"visit.created", "letter.withdrawn", "letter." + DraftSent, "letter." + FinalSent,
	"letter." + ComplaintReceived, "letter." + ComplaintResolved, "letter." + Published}

// asRecorded holds r's letter events and retention period, from which the
// sweep dates its notice and destruction, to the visit's audit trail
// (chained, and checked by portal audit verify): the events the trail's
// letter records leave, in order, once withdrawals are taken off, and the
// retention period its creation recorded. Someone who can write to the
// database could otherwise move a publication back, or shorten a period,
// and have the evidence destroyed early under a certificate that says it
// was on time. A creation recorded before its period was (no
// retention_days) leaves the period unchecked.
func (s *Service) asRecorded(ctx context.Context, r store.VisitRow) error {
	recs, err := s.Store.AuditRecords(ctx, store.AuditFilter{VisitID: r.Visit.ID, Actions: letterActions})
	if err != nil {
		return err
	}
	var trail []Event
	for _, rec := range recs {
		if rec.Outcome != "success" {
			continue
		}
		var d struct {
			Date          string `json:"date"`
			Event         string `json:"event"`
			RetentionDays *int   `json:"retention_days"`
		}
		if rec.Detail != "" {
			if err := json.Unmarshal([]byte(rec.Detail), &d); err != nil {
				return fmt.Errorf("%w: record %d: %v", ErrNotAsRecorded, rec.Seq, err)
			}
		}
		switch rec.Action {
		case "visit.created":
			if d.RetentionDays != nil && *d.RetentionDays != r.Visit.RetentionDays {
				return fmt.Errorf("%w: created with a retention period of %d days, %d in the database", ErrNotAsRecorded, *d.RetentionDays, r.Visit.RetentionDays)
			}
			continue
		case "letter.withdrawn":
			// The last of that event and date: the last recorded, as
			// the database ordered it, which before the events kept the
			// order they were checked in need not be the trail's last.
			i := -1
			for j, e := range slices.Backward(trail) {
				if e.Event == d.Event && e.Date.Format(time.DateOnly) == d.Date {
					i = j
					break
				}
			}
			if i < 0 {
				return fmt.Errorf("%w: record %d withdraws %s dated %s, which the trail does not hold", ErrNotAsRecorded, rec.Seq, d.Event, d.Date)
			}
			trail = slices.Delete(trail, i, i+1)
			continue
		}
		day, err := time.Parse(time.DateOnly, d.Date)
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrNotAsRecorded, rec.Seq, err)
		}
		trail = append(trail, Event{Event: strings.TrimPrefix(rec.Action, "letter."), Date: day})
	}
	// The same events, each the same day, in whatever order: events
	// stored before they kept the order they were checked in may stand
	// in another order than their records, and the order sets no date.
	held := make([]string, len(r.Events))
	for i, e := range r.Events {
		held[i] = e.Event + " " + e.Date.Format(time.DateOnly)
	}
	recorded := make([]string, len(trail))
	for i, e := range trail {
		recorded[i] = e.Event + " " + e.Date.Format(time.DateOnly)
	}
	slices.Sort(held)
	slices.Sort(recorded)
	if !slices.Equal(held, recorded) {
		return fmt.Errorf("%w: the database holds %s; the trail recorded %s", ErrNotAsRecorded, strings.Join(held, ", "), strings.Join(recorded, ", "))
	}
	return nil
}
