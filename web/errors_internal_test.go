package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestUploadTakenIsExplained: an upload the janitor took as abandoned (its
// process stalled) is told to upload again, not given "something went
// wrong".
func TestUploadTakenIsExplained(t *testing.T) {
	he := toHTTPError(fmt.Errorf("commit: %w", store.ErrUploadTaken))
	if he.status != http.StatusServiceUnavailable || he.code != "upload_stopped" || !strings.Contains(he.msg, "upload it again") {
		t.Errorf("an upload taken as abandoned: %d %s %q, want 503 upload_stopped telling to upload again", he.status, he.code, he.msg)
	}
}
