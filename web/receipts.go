package web

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// Signed submission receipts: the JSON as it was signed (for `portal
// receipt verify`), and a plain page to print.

// serveReceipt sends a receipt's signed bytes, exactly as issued.
func serveReceipt(c *gin.Context, r portal.ReceiptView) {
	c.Header("Content-Disposition", `attachment; filename="receipt-`+r.Reference+`-`+r.ID[:8]+`.json"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json", r.Signed)
}

// receiptJSON is a receipt in a listing: where to get it, and what it
// says (the signed bytes are at Download).
type receiptJSON struct {
	ID       string          `json:"id"`
	Kind     string          `json:"kind"`
	Download string          `json:"download"`
	Page     string          `json:"page"`
	Signed   json.RawMessage `json:"signed"`
}

func receiptLinks(visitID string, r portal.ReceiptView) receiptJSON {
	return receiptJSON{ID: r.ID, Kind: r.Kind, Download: "/api/v1/visits/" + visitID + "/receipts/" + r.ID,
		Page: "/visits/" + visitID + "/receipts/" + r.ID, Signed: r.Signed}
}

// issueReceipt signs a receipt of a batch of the caller's uploads:
// {"files": ["id", ...]}.
func (s *Server) issueReceipt(c *gin.Context) {
	var req struct {
		Files []string `json:"files"`
	}
	if !s.bindJSON(c, &req, `Send {"files": ["…"]}: the ids of the files you uploaded in the batch.`) {
		return
	}
	acc := accessOf(c)
	r, err := acc.IssueBatchReceipt(c.Request.Context(), req.Files)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, receiptLinks(acc.Visit.ID, r))
}

// listReceipts lists the receipts the caller may read; ?file= answers
// with the signed receipt of that file's upload instead.
func (s *Server) listReceipts(c *gin.Context) {
	acc := accessOf(c)
	if f := c.Query("file"); f != "" {
		r, err := acc.FileReceipt(c.Request.Context(), f)
		if err != nil {
			s.fail(c, err)
			return
		}
		serveReceipt(c, r)
		return
	}
	list, err := acc.Receipts(c.Request.Context(), portal.ReceiptQuery{After: c.Query("after")})
	if err != nil {
		s.fail(c, err)
		return
	}
	out := []receiptJSON{}
	for _, r := range list.Receipts {
		out = append(out, receiptLinks(acc.Visit.ID, r))
	}
	page := gin.H{"receipts": out}
	if list.Next != "" {
		page["next"] = list.Next
	}
	c.JSON(http.StatusOK, page)
}

func (s *Server) downloadReceipt(c *gin.Context) {
	r, err := accessOf(c).Receipt(c.Request.Context(), c.Param("receipt"))
	if err != nil {
		s.fail(c, err)
		return
	}
	serveReceipt(c, r)
}

// receiptPage is the receipt to print.
func (s *Server) receiptPage(c *gin.Context) {
	acc := accessOf(c)
	r, err := acc.Receipt(c.Request.Context(), c.Param("receipt"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.renderNav(c, "receipt", "Receipt for "+r.Reference, "visits", gin.H{"Visit": acc.View(c.Request.Context()), "Receipt": r,
		"Download": "/api/v1/visits/" + acc.Visit.ID + "/receipts/" + r.ID})
}
