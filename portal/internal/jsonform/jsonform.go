// Package jsonform gives back the bytes the portal signed from a copy of
// signed JSON that went through another tool on its way to a verifier.
//
// The portal signs the compact JSON that encoding/json writes. A copy
// pretty-printed by jq or python -m json.tool keeps every key, in order,
// and every value, but may write a string's characters otherwise: "&", "<"
// and ">" unescaped (jq), or every non-ASCII character as \uXXXX (Python).
// Compacting alone does not undo that. Forms also re-encodes each string
// as encoding/json writes it, without touching key order or numbers, so a
// copy whose content is unchanged verifies and any other change still
// fails the signature.
package jsonform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Forms returns the forms of raw a signature may have been made over:
// raw compacted, and raw with its strings re-encoded as encoding/json
// writes them (when that differs).
func Forms(raw []byte) ([][]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, err
	}
	out := [][]byte{compact.Bytes()}
	if re, err := reencode(raw); err == nil && !bytes.Equal(re, compact.Bytes()) {
		out = append(out, re)
	}
	return out, nil
}

// reencode writes raw's tokens again, compact, each string as
// encoding/json encodes it and each number as it was written.
func reencode(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out bytes.Buffer
	// For each open object or array: whether it is an object, whether its
	// next token is a key, and how many members it has so far.
	type level struct {
		object, key bool
		n           int
	}
	var stack []level
	// done marks a value as complete in the object or array around it.
	done := func() {
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			top.n++
			top.key = top.object
		}
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out.WriteByte(byte(d))
			done()
			continue
		}
		isKey := false
		if n := len(stack); n > 0 {
			top := &stack[n-1]
			switch {
			case top.object && top.key:
				isKey = true
				if top.n > 0 {
					out.WriteByte(',')
				}
				top.key = false
			case top.object:
				out.WriteByte(':')
			case top.n > 0:
				out.WriteByte(',')
			}
		}
		switch t := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(t))
			stack = append(stack, level{object: t == '{', key: t == '{'})
			continue
		case json.Number:
			out.WriteString(t.String())
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return nil, err
			}
			out.Write(b)
		}
		if !isKey {
			done()
		}
	}
	return out.Bytes(), nil
}
