package jsonform

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestFormsGiveBackTheSignedBytes: what encoding/json wrote, pretty-printed
// with its strings escaped otherwise (as jq and Python write them), has
// among its forms the exact bytes written, and a changed value does not.
func TestFormsGiveBackTheSignedBytes(t *testing.T) {
	v := map[string]any{"name": "Health & Safety <draft> café.xlsx", "size": 70000, "files": []any{map[string]any{"a": 1, "b": []any{}, "c": map[string]any{}}, "x", nil, true}, "e": ""}
	signed, _ := json.Marshal(v)
	for name, c := range map[string]struct {
		copy string
		same bool
	}{
		"as written":   {string(signed), true},
		"jq":           {`{ "e": "", "files": [ { "a": 1, "b": [], "c": {} }, "x", null, true ], "name": "Health & Safety <draft> café.xlsx", "size": 70000 }`, true},
		"python":       {"{\n    \"e\": \"\",\n    \"files\": [\n        {\"a\": 1, \"b\": [], \"c\": {}},\n        \"x\", null, true\n    ],\n    \"name\": \"Health \\u0026 Safety \\u003cdraft\\u003e caf\\u00e9.xlsx\",\n    \"size\": 70000\n}", true},
		"name changed": {`{"e":"","files":[{"a":1,"b":[],"c":{}},"x",null,true],"name":"Health & Safety <draft> cafe.xlsx","size":70000}`, false},
		"size changed": {`{"e":"","files":[{"a":1,"b":[],"c":{}},"x",null,true],"name":"Health & Safety <draft> café.xlsx","size":70001}`, false},
		"reordered":    {`{"files":[{"a":1,"b":[],"c":{}},"x",null,true],"e":"","name":"Health & Safety <draft> café.xlsx","size":70000}`, false},
	} {
		forms, err := Forms([]byte(c.copy))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		found := false
		for _, f := range forms {
			found = found || bytes.Equal(f, signed)
		}
		if found != c.same {
			t.Errorf("%s: the signed bytes among its forms: %v, want %v (%q)", name, found, c.same, forms)
		}
	}
}
