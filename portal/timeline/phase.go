package timeline

import (
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// The phases of an active visit, as Phase returns them.
const (
	Preparing  = "preparing"  // before the notification
	Collecting = "collecting" // notification to the day before fieldwork
	Fieldwork  = "fieldwork"  // fieldwork start to fieldwork end
	Reporting  = "reporting"  // after fieldwork
)

// Phase is where the visit stands on today's date (its date where it is:
// pass today in Europe/London). It is decided by dates alone; letter events,
// complaints and destruction are decided elsewhere.
func (t Timeline) Phase(today time.Time) string {
	d := calendar.Date(today.Date())
	switch {
	case d.Before(t.Notification):
		return Preparing
	case d.Before(t.FieldworkStart):
		return Collecting
	case !d.After(t.FieldworkEnd):
		return Fieldwork
	}
	return Reporting
}
