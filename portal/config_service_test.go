package portal

import (
	"strings"
	"testing"
)

// TestLoadConfigService: the privacy notice's and contact page's settings
// are optional, read as given, and refused with the key to fix when they
// are not an address, a telephone number or one line of text.
func TestLoadConfigService(t *testing.T) {
	c, err := LoadConfig(devEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Service != (ServiceInfo{}) {
		t.Fatalf("defaults: %+v", c.Service)
	}
	c, err = LoadConfig(devEnv(map[string]string{"PORTAL_PRIVACY_CONTROLLER": "Ofsted", "PORTAL_PRIVACY_CONTACT": "dpo@ofsted.example",
		"PORTAL_PRIVACY_RETENTION": "Accounts and the audit trail are kept for 6 years.", "PORTAL_CONTACT_EMAIL": "portal-help@ofsted.example",
		"PORTAL_CONTACT_PHONE": "+44 300 123 1231"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (ServiceInfo{"Ofsted", "dpo@ofsted.example", "Accounts and the audit trail are kept for 6 years.", "portal-help@ofsted.example", "+44 300 123 1231"}); c.Service != want {
		t.Fatalf("service: %+v", c.Service)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"named contact":     {map[string]string{"PORTAL_PRIVACY_CONTACT": "DPO <dpo@ofsted.example>"}, "PORTAL_PRIVACY_CONTACT must be an email address"},
		"not an address":    {map[string]string{"PORTAL_CONTACT_EMAIL": "helpdesk"}, "PORTAL_CONTACT_EMAIL must be an email address"},
		"letters in phone":  {map[string]string{"PORTAL_CONTACT_PHONE": "call us"}, "PORTAL_CONTACT_PHONE must be a telephone number"},
		"plus inside phone": {map[string]string{"PORTAL_CONTACT_PHONE": "0300+123"}, "PORTAL_CONTACT_PHONE"},
		"two lines":         {map[string]string{"PORTAL_PRIVACY_CONTROLLER": "Ofsted\nand others"}, "PORTAL_PRIVACY_CONTROLLER must be one line"},
		"too long":          {map[string]string{"PORTAL_PRIVACY_RETENTION": strings.Repeat("x", 501)}, "PORTAL_PRIVACY_RETENTION must be one line"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(devEnv(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
