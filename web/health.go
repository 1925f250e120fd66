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
// key work. An identity provider that cannot be used is "degraded"
// (idp:<name>, with why): one provider down must not take every instance
// out of a load balancer.
func (s *Server) readyz(c *gin.Context) {
	r := s.svc.Ready(c.Request.Context())
	for name, p := range s.idps {
		if problem := p.Problem(); problem != "" {
			if r.Degraded == nil {
				r.Degraded = map[string]string{}
			}
			r.Degraded["idp:"+name] = problem
		}
	}
	status := http.StatusOK
	if !r.Ready {
		status = http.StatusServiceUnavailable
	}
	c.JSON(status, r)
}
