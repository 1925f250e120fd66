package devidp

// DemoPassword is the password of every demo account (development only).
const DemoPassword = "demo-password"

// PasswordOnlyUser is the demo account of the ofsted issuer that signs in
// without a second factor: the dev stack refuses it.
const PasswordOnlyUser = "password-only@ofsted.example"

// DemoConfig is the two demo issuers, cafcass and ofsted, with the demo
// accounts and one confidential client "portal" per issuer.
func DemoConfig(baseURL, portalURL string) Config {
	// Ofsted's accounts sign in with a second factor (amr mfa, which the
	// dev stack requires), but for one that signs in with a password only.
	acct := func(user, sub, name string) Account {
		return Account{Username: user, Password: DemoPassword, Subject: sub, Email: user, Name: name, AMR: []string{"pwd"}}
	}
	mfa := func(a Account) Account {
		a.AMR, a.ACR = []string{"pwd", "otp", "mfa"}, "urn:portal:dev:mfa"
		return a
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
				mfa(acct("admin@ofsted.example", "a3d5f7b9-1c2e-4a6b-8d0f-2e4a6c8e0a13", "Portal Administrator (demo)")),
				mfa(acct("lead@ofsted.example", "b4e6a8c0-2d3f-4b7c-9e1a-3f5b7d9f1b24", "Lead Inspector (demo)")),
				mfa(acct("hmi@ofsted.example", "c5f7b9d1-3e4a-4c8d-8f2b-4a6c8e0a2c35", "Inspector HMI (demo)")),
				mfa(acct("qam@ofsted.example", "d6a8c0e2-4f5b-4d9e-9a3c-5b7d9f1b3d46", "Quality Assurance Manager (demo)")),
				mfa(acct("sao@ofsted.example", "e7b9d1f3-5a6c-4e0f-8b4d-6c8e0a2c4e57", "Senior Analytical Officer (demo)")),
				mfa(acct("outsider@ofsted.example", "f8c0e2a4-6b7d-4f1a-9c5e-7d9f1b3d5f68", "Inspector on no visit (demo)")),
				acct(PasswordOnlyUser, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c79", "Inspector without a second factor (demo)"),
			}},
		},
	}
}
