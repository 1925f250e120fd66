package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// The JSON names are the struct tags of Timeline: one list, read by
// reflection, so a new field cannot be forgotten here.

// MarshalJSON writes every date as "YYYY-MM-DD", in field order.
func (t Timeline) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	v := reflect.ValueOf(t)
	for i, f := range reflect.VisibleFields(v.Type()) {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", f.Tag.Get("json"), v.FieldByIndex(f.Index).Interface().(time.Time).Format(time.DateOnly))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads dates written by MarshalJSON. Every date must be a
// "YYYY-MM-DD" string; unknown names are ignored, missing ones left zero. It
// does not check the invariants of a computed Timeline.
func (t *Timeline) UnmarshalJSON(data []byte) error {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	v := reflect.ValueOf(t).Elem()
	for _, f := range reflect.VisibleFields(v.Type()) {
		s, ok := m[f.Tag.Get("json")]
		if !ok {
			continue
		}
		d, err := calendar.ParseDate(s)
		if err != nil {
			return fmt.Errorf("timeline: %s: %w", f.Tag.Get("json"), err)
		}
		v.FieldByIndex(f.Index).Set(reflect.ValueOf(d))
	}
	return nil
}
