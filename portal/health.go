package portal

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// healthz says the process is alive.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz checks what serving needs: the database, the object store and the
// master key (its wrap and unwrap self-test at start-up). It names which check failed, never why in detail.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	checks := gin.H{"database": "ok", "storage": "ok", "key": "ok"}
	ok := true
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], ok = "failing", false
		s.log.Error("readiness: database", "err", err)
	}
	if err := s.blobs.Ping(ctx); err != nil {
		checks["storage"], ok = "failing", false
		s.log.Error("readiness: storage", "err", err)
	}
	if s.keyErr != nil {
		checks["key"], ok = "failing", false
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, gin.H{"ready": ok, "checks": checks})
}
