package receipt

import (
	"bytes"
	"encoding/json"
)

func jsonIndent(dst *bytes.Buffer, b []byte) error { return json.Indent(dst, b, "", "  ") }
