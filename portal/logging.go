package portal

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// NewLogger returns the portal's structured JSON logger.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

const requestIDKey = "request_id"

// requestLog gives every request an id (echoed as X-Request-Id) and logs one
// line when it ends. It logs the route pattern, never the raw path or query:
// query strings carry file names and OAuth codes.
func (s *Server) requestLog(c *gin.Context) {
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.Set(requestIDKey, id)
	c.Header("X-Request-Id", id)
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "(no route)"
	}
	attrs := []any{
		"request_id", id,
		"method", c.Request.Method,
		"route", route,
		"status", c.Writer.Status(),
		"bytes", c.Writer.Size(),
		"duration_ms", time.Since(start).Milliseconds(),
	}
	if a, ok := c.Get(accessKey); ok {
		acc := a.(*access)
		attrs = append(attrs, "user", acc.user.ID, "allow", acc.decision.Allow, "policies", acc.decision.Policies, "decision", acc.decision.Rule)
		if acc.visit.ID != "" {
			attrs = append(attrs, "visit", acc.visit.ID)
		}
	}
	if len(c.Errors) > 0 {
		attrs = append(attrs, "err", strings.Join(c.Errors.Errors(), "; "))
	}
	s.log.InfoContext(c.Request.Context(), "request", attrs...)
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }
