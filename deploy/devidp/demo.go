package devidp

// DemoPassword is the password of every demo account (development only).
const DemoPassword = "demo-password"

// DemoConfig is the two demo issuers, cafcass and ofsted, with the demo
// accounts and one confidential client "portal" per issuer.
func DemoConfig(baseURL, portalURL string) Config {
	acct := func(user, sub, name string) Account {
		return Account{Username: user, Password: DemoPassword, Subject: sub, Email: user, Name: name}
	}
	client := func(issuer string) []Client {
		return []Client{{
			ID: "portal", Secret: "dev-portal-secret",
			RedirectURIs:           []string{portalURL + "/auth/" + issuer + "/callback"},
			PostLogoutRedirectURIs: []string{portalURL + "/"},
		}}
	}
	return Config{
		BaseURL: baseURL,
		Issuers: []Issuer{
			{Name: "cafcass", Clients: client("cafcass"), Accounts: []Account{
				acct("coordinator@cafcass.example", "6f1c2a9e-3b7d-4c55-9a0e-1d2f3c4b5a61", "Provider Coordinator (demo)"),
				acct("uploader@cafcass.example", "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c62", "Provider Uploader (demo)"),
			}},
			{Name: "ofsted", Clients: client("ofsted"), Accounts: []Account{
				acct("admin@ofsted.example", "a3d5f7b9-1c2e-4a6b-8d0f-2e4a6c8e0a13", "Portal Administrator (demo)"),
				acct("lead@ofsted.example", "b4e6a8c0-2d3f-4b7c-9e1a-3f5b7d9f1b24", "Lead Inspector (demo)"),
				acct("hmi@ofsted.example", "c5f7b9d1-3e4a-4c8d-8f2b-4a6c8e0a2c35", "Inspector HMI (demo)"),
				acct("qam@ofsted.example", "d6a8c0e2-4f5b-4d9e-9a3c-5b7d9f1b3d46", "Quality Assurance Manager (demo)"),
				acct("sao@ofsted.example", "e7b9d1f3-5a6c-4e0f-8b4d-6c8e0a2c4e57", "Senior Analytical Officer (demo)"),
				acct("outsider@ofsted.example", "f8c0e2a4-6b7d-4f1a-9c5e-7d9f1b3d5f68", "Inspector on no visit (demo)"),
			}},
		},
	}
}
