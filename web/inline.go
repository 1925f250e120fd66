package web

import (
	"bytes"
	"io"
	"path"
	"strings"
)

// Viewing a file in the browser (?disposition=inline) is offered for PDFs,
// PNG and JPEG images only, and only when the file's first bytes are what
// its name says: anything else, SVG and HTML among it (they can carry
// script), is sent as an attachment whatever was asked. Images are served
// under a sandboxing Content-Security-Policy; PDFs are not sandboxed
// (Chromium does not run its PDF viewer in a sandboxed document) and rely
// on nosniff, their exact type and the check of their first bytes.

// inlineKind is a type that may be viewed inline.
type inlineKind struct {
	contentType string
	magic       []byte
	csp         string
}

var inlineKinds = map[string]inlineKind{
	".pdf":  {"application/pdf", []byte("%PDF-"), inlinePDFPolicy},
	".png":  {"image/png", []byte("\x89PNG\r\n\x1a\n"), inlineImagePolicy},
	".jpg":  {"image/jpeg", []byte("\xff\xd8\xff"), inlineImagePolicy},
	".jpeg": {"image/jpeg", []byte("\xff\xd8\xff"), inlineImagePolicy},
}

const (
	inlineImagePolicy = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	inlinePDFPolicy   = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; object-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

// inlineType is the content type a file of this name is viewed as, or ""
// when it is never viewed inline.
func inlineType(name string) string {
	return inlineKinds[strings.ToLower(path.Ext(name))].contentType
}

// sniffInline reads the first bytes of r and says how to serve the file:
// inline with kind when its name is of a viewable type and its bytes begin
// as that type does. The returned reader gives r's bytes from the start.
func sniffInline(name string, r io.Reader) (io.Reader, *inlineKind, error) {
	k, ok := inlineKinds[strings.ToLower(path.Ext(name))]
	if !ok {
		return r, nil, nil
	}
	head := make([]byte, len(k.magic))
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, nil, err
	}
	head = head[:n]
	rest := io.MultiReader(bytes.NewReader(head), r)
	if !bytes.Equal(head, k.magic) {
		return rest, nil, nil
	}
	return rest, &k, nil
}
