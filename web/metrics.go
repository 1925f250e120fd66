package web

import (
	"io"
	"time"

	"github.com/gin-gonic/gin"
)

// Metrics receives what the HTTP door counts: every request by its route
// pattern (Gin's FullPath, never the raw path, which holds ids and file
// names), and the bytes and duration of each upload and download. The
// operator's wiring passes an implementation (package portal/metrics);
// without one nothing is counted.
type Metrics interface {
	Request(method, route string, status int, d time.Duration)
	Transfer(upload bool, bytes int64, d time.Duration)
}

// WithMetrics counts requests and transfers into m.
func WithMetrics(m Metrics) Option { return func(o *options) { o.metrics = m } }

// transfers are the routes that carry evidence: true for uploads, false
// for downloads.
var transfers = map[string]bool{
	"POST /api/v1/visits/:id/files":                true,
	"POST /api/v1/visits/:id/files/:file/versions": true,
	"POST /visits/:id/files":                       true,
	"POST /visits/:id/files/:file/replace":         true,
	"PATCH /api/v1/visits/:id/uploads/:upload":     true,
	"GET /api/v1/visits/:id/files/:file/content":   false,
	"GET /api/v1/visits/:id/archive":               false,
	"GET /visits/:id/download":                     false,
}

// countRequests is the first middleware: it counts every request when it
// ends, including one whose handler cut the connection (a download that
// could not finish), and for the transfer routes the bytes that crossed.
func (s *Server) countRequests(c *gin.Context) {
	start := time.Now()
	route := c.FullPath()
	upload, transfer := transfers[c.Request.Method+" "+route]
	var body *countingBody
	if transfer && upload && c.Request.Body != nil {
		body = &countingBody{ReadCloser: c.Request.Body}
		c.Request.Body = body
	}
	defer func() {
		d := time.Since(start)
		status := c.Writer.Status()
		s.metrics.Request(c.Request.Method, route, status, d)
		// The upload form answers 303 when it has stored.
		if !transfer || status >= 400 || (!upload && status >= 300) {
			return
		}
		n := int64(c.Writer.Size())
		if body != nil {
			n = body.n
		}
		s.metrics.Transfer(upload, max(n, 0), d)
	}()
	c.Next()
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
