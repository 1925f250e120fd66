package web

import (
	"fmt"

	"github.com/gin-gonic/gin"
)

// scanWarnings tells administrators what the malware scanner found and
// what waits for it (the visits page).
func (s *Server) scanWarnings(c *gin.Context) []string {
	sum, err := s.svc.ScanSummary(c.Request.Context())
	if err != nil {
		s.svc.Log().Error("scan summary", "err", err)
		return nil
	}
	var out []string
	if sum.Infected > 0 {
		out = append(out, fmt.Sprintf("The malware scanner found %s. %s kept as uploaded, shown to %s uploader, and never served to anyone; the audit trail of each visit names the signature (file.infected). Purge %s or keep %s as evidence.",
			plural(sum.Infected, "infected file"), map[bool]string{true: "It is", false: "They are"}[sum.Infected == 1],
			map[bool]string{true: "its", false: "their"}[sum.Infected == 1], map[bool]string{true: "it", false: "them"}[sum.Infected == 1],
			map[bool]string{true: "it", false: "them"}[sum.Infected == 1]))
	}
	if sum.Waiting > 0 {
		why := ""
		if sum.ScannerDown {
			why = ", which does not answer"
		}
		out = append(out, fmt.Sprintf("%d file%s waiting for the malware scanner%s: the inspection team cannot see %s until %s scanned clean (files over 2047 MiB cannot be scanned and wait for an administrator).",
			sum.Waiting, map[bool]string{true: " is", false: "s are"}[sum.Waiting == 1], why,
			map[bool]string{true: "it", false: "them"}[sum.Waiting == 1], map[bool]string{true: "it is", false: "they are"}[sum.Waiting == 1]))
	}
	if !sum.Required {
		out = append(out, "Malware scanning is off (PORTAL_SCAN=off): uploads are served without being scanned.")
	}
	return out
}
