package portal

import (
	"bytes"
	"encoding/gob"
	"slices"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
)

// SessionCodec encodes a session with its values in the order of their
// keys. The web door's sessions use it, and the janitor reads an expired
// session with it to record who it was. scs's own codec encodes its map
// in Go's random map order, so an unchanged session of several values
// encoded differently from request to request, and the store (which
// skips writing a session whose bytes and deadline have not moved:
// store.SessionStore.CommitCtx) rewrote it on most requests.
//
// Its field names are not those of scs's codec: a session it did not
// write (one scs's codec wrote before an upgrade) matches none of them,
// fails to decode here, and is read by scs's codec instead.
type SessionCodec struct{}

type sessionRecord struct {
	Expires time.Time // the session's absolute deadline
	Entries []sessionEntry
}

type sessionEntry struct {
	Key   string
	Value any
}

// Encode is scs.Codec's.
func (SessionCodec) Encode(deadline time.Time, values map[string]any) ([]byte, error) {
	r := sessionRecord{Expires: deadline, Entries: make([]sessionEntry, 0, len(values))}
	for k, v := range values {
		r.Entries = append(r.Entries, sessionEntry{k, v})
	}
	slices.SortFunc(r.Entries, func(a, b sessionEntry) int { return strings.Compare(a.Key, b.Key) })
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Decode is scs.Codec's; it reads sessions scs's own codec wrote too.
func (SessionCodec) Decode(b []byte) (time.Time, map[string]any, error) {
	var r sessionRecord
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return scs.GobCodec{}.Decode(b)
	}
	values := make(map[string]any, len(r.Entries))
	for _, e := range r.Entries {
		values[e.Key] = e.Value
	}
	return r.Expires, values, nil
}
