package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// healthz says the process is alive.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz answers 503 unless the database, the object store and the master
// key work.
func (s *Server) readyz(c *gin.Context) {
	r := s.svc.Ready(c.Request.Context())
	status := http.StatusOK
	if !r.Ready {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, r)
}
