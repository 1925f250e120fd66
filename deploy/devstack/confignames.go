package devstack

import (
	"strings"

	"github.com/ofsted-portal/evidence/portal"
)

// ConfigVariables are the environment variables the portal's configuration
// reads (portal.LoadConfig) when its identity providers are idps: what a
// deployment (the Helm chart, the compose file) may set. It asks the
// configuration reader itself, so the list cannot drift from the code.
func ConfigVariables(idps ...string) map[string]bool {
	names := map[string]bool{}
	env := map[string]string{"PORTAL_IDPS": strings.Join(idps, ",")}
	portal.PartialConfig(func(k string) string {
		names[k] = true
		return env[k]
	})
	return names
}

// SecretVariables are the secrets among vars: those also read from a file
// named by NAME_FILE. A deployment passes them only as files.
func SecretVariables(vars map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range vars {
		if vars[k+"_FILE"] {
			out[k] = true
		}
	}
	return out
}
