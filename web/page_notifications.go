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
	if f := formOf(c); len(f.Errors) > 0 {
		// Refused: the boxes as they were ticked.
		for i := range settings {
			settings[i].On = f.Value("on:"+settings[i].Kind) != ""
		}
	}
	s.renderNav(c, "notifications", "Your notifications", "notifications", gin.H{"Settings": settings, "MailOff": s.cfg.Mail.SMTPURL == ""})
}

// saveNotificationsForm saves the checkboxes: a summary not ticked is off.
func (s *Server) saveNotificationsForm(c *gin.Context) {
	on := map[string]bool{}
	f := &form{}
	for _, k := range c.PostFormArray("on") {
		on[k] = true
		f.Set("on:"+k, "yes")
	}
	if err := s.svc.SaveNotificationSettings(c.Request.Context(), accessOf(c).Actor, on); err != nil {
		s.refuse(c, f, err, nil, "summaries", s.notificationsPage)
		return
	}
	s.flash(c, "Your notifications are saved.")
	c.Redirect(http.StatusSeeOther, "/notifications")
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
