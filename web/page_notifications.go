package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// notificationsPage is "Your notifications": the summaries sent by mail
// that the person may switch off.
func (s *Server) notificationsPage(c *gin.Context) {
	settings, err := s.svc.NotificationSettings(c.Request.Context(), accessOf(c).Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.renderNav(c, "notifications", "Your notifications", "notifications", gin.H{"Settings": settings, "Saved": c.Query("saved") != "", "MailOff": s.cfg.Mail.SMTPURL == ""})
}

// saveNotificationsForm saves the checkboxes: a summary not ticked is off.
func (s *Server) saveNotificationsForm(c *gin.Context) {
	on := map[string]bool{}
	for _, k := range c.PostFormArray("on") {
		on[k] = true
	}
	if err := s.svc.SaveNotificationSettings(c.Request.Context(), accessOf(c).Actor, on); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/notifications?saved=1")
}

// myNotifications is the same as JSON; PUT takes {"on": ["kind", …]}.
func (s *Server) myNotifications(c *gin.Context) {
	settings, err := s.svc.NotificationSettings(c.Request.Context(), accessOf(c).Actor)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"notifications": settings})
}

func (s *Server) putMyNotifications(c *gin.Context) {
	var in struct {
		On []string `json:"on"`
	}
	if !s.bindJSON(c, &in, `{"on": ["files_arrived", …]}`) {
		return
	}
	on := map[string]bool{}
	for _, k := range in.On {
		on[k] = true
	}
	if err := s.svc.SaveNotificationSettings(c.Request.Context(), accessOf(c).Actor, on); err != nil {
		s.fail(c, err)
		return
	}
	s.myNotifications(c)
}
