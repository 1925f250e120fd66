package web

import (
	"testing"

	"github.com/ofsted-portal/evidence/portal"
)

func TestMergeUserinfo(t *testing.T) {
	cfg := portal.IdPConfig{Name: "x", EmailClaim: "email"}
	id := portal.Identity{Subject: "s-1"}
	if err := mergeUserinfo(cfg, &id, emailUnstated, map[string]any{"sub": "s-2", "email": "other@x.example"}); err == nil || id.Email != "" {
		t.Fatalf("userinfo about another subject was taken: %v %+v", err, id)
	}
	if err := mergeUserinfo(cfg, &id, emailUnstated, map[string]any{"email": "a@x.example"}); err == nil {
		t.Fatal("userinfo without a subject was taken")
	}
	if err := mergeUserinfo(cfg, &id, emailUnstated, map[string]any{"sub": "s-1", "email": "a@x.example", "email_verified": "false", "name": "A"}); err != nil || id.Email != "" || id.Name != "A" {
		t.Fatalf("an unverified email (as a string) bound: %v %+v", err, id)
	}
	id.Name = ""
	if err := mergeUserinfo(cfg, &id, emailUnstated, map[string]any{"sub": "s-1", "email": "a@x.example", "xms_edov": false}); err != nil || id.Email != "" {
		t.Fatalf("an email whose domain Entra ID has not verified bound: %v %+v", err, id)
	}
	cfg.EmailClaim = "upn"
	if err := mergeUserinfo(cfg, &id, emailUnstated, map[string]any{"sub": "s-1", "upn": "a@x.example", "email": "b@x.example"}); err != nil || id.Email != "a@x.example" {
		t.Fatalf("the configured email claim was not used: %v %+v", err, id)
	}
}

func TestCheckFactors(t *testing.T) {
	cfg := portal.IdPConfig{RequireACR: []string{"loa2", "loa3"}, RequireAMR: "mfa"}
	for _, tc := range []struct {
		claims map[string]any
		ok     bool
	}{
		{map[string]any{"acr": "loa2", "amr": []any{"pwd", "mfa"}}, true},
		{map[string]any{"acr": "loa3", "amr": "mfa"}, true},
		{map[string]any{"acr": "loa1", "amr": []any{"mfa"}}, false},
		{map[string]any{"amr": []any{"mfa"}}, false},
		{map[string]any{"acr": "loa2", "amr": []any{"pwd"}}, false},
		{map[string]any{"acr": "loa2"}, false},
	} {
		err := checkFactors(cfg, tc.claims)
		if (err == nil) != tc.ok {
			t.Errorf("%v: %v", tc.claims, err)
		}
		if se, _ := err.(signInError); err != nil && !se.secondFactor {
			t.Errorf("%v: refusal does not ask for a second factor", tc.claims)
		}
	}
	if err := checkFactors(portal.IdPConfig{}, map[string]any{}); err != nil {
		t.Fatalf("no requirement refused: %v", err)
	}
}

// signInClaims is the email and name a sign-in takes from an ID token's
// claims and, when they lack either, from userinfo's.
func signInClaims(cfg portal.IdPConfig, token, userinfo map[string]any) (email, name string, err error) {
	id, verdict := identityFrom(cfg, "https://idp.example", "s-1", token)
	if id.Email == "" || id.Name == "" {
		err = mergeUserinfo(cfg, &id, verdict, userinfo)
	}
	return id.Email, id.Name, err
}

// TestUserinfoEmailVerification: an email the ID token says is unverified
// binds nothing, and userinfo cannot bring it back unless userinfo itself
// says it is verified.
func TestUserinfoEmailVerification(t *testing.T) {
	const email = "lead@ofsted.example"
	for _, tc := range []struct {
		name            string
		token, userinfo map[string]any
		want            string
	}{
		{"token unverified, userinfo silent",
			map[string]any{"email": email, "email_verified": false},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"token unverified as a string, userinfo silent",
			map[string]any{"email": email, "email_verified": "false"},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"token unverified without the email, userinfo silent",
			map[string]any{"email_verified": false},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"Entra domain unverified, userinfo silent",
			map[string]any{"email": email, "xms_edov": false},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"token unverified, userinfo unverified",
			map[string]any{"email": email, "email_verified": false},
			map[string]any{"sub": "s-1", "email": email, "email_verified": false, "name": "Lead"}, ""},
		{"token unverified, userinfo verified",
			map[string]any{"email": email, "email_verified": false},
			map[string]any{"sub": "s-1", "email": email, "email_verified": true, "name": "Lead"}, email},
		{"token verified without the email, userinfo silent",
			map[string]any{"email_verified": true},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, email},
		{"token silent, userinfo silent",
			map[string]any{},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, email},
		{"token silent, userinfo unverified",
			map[string]any{},
			map[string]any{"sub": "s-1", "email": email, "email_verified": false, "name": "Lead"}, ""},
		// A verification claim that says anything but true is not taken
		// for silence.
		{"token unverified as a capitalised string, userinfo silent",
			map[string]any{"email": email, "email_verified": "False"},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"token unverified as 0, userinfo silent",
			map[string]any{"email": email, "email_verified": 0.0},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"token unverified as null, userinfo silent",
			map[string]any{"email": email, "email_verified": nil},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"Entra domain unverified as a string, userinfo silent",
			map[string]any{"email": email, "xms_edov": "0"},
			map[string]any{"sub": "s-1", "email": email, "name": "Lead"}, ""},
		{"token verified as a capitalised string",
			map[string]any{"email": email, "email_verified": "True", "name": "Lead"}, nil, email},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, name, err := signInClaims(portal.IdPConfig{Name: "ofsted", EmailClaim: "email"}, tc.token, tc.userinfo)
			if err != nil || got != tc.want || name != "Lead" {
				t.Fatalf("email %q name %q err %v; want email %q", got, name, err, tc.want)
			}
		})
	}
}
