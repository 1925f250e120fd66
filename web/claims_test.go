package web

import (
	"testing"

	"github.com/ofsted-portal/evidence/portal"
)

func TestMergeUserinfo(t *testing.T) {
	cfg := portal.IdPConfig{Name: "x", EmailClaim: "email"}
	id := portal.Identity{Subject: "s-1"}
	if err := mergeUserinfo(cfg, &id, map[string]any{"sub": "s-2", "email": "other@x.example"}); err == nil || id.Email != "" {
		t.Fatalf("userinfo about another subject was taken: %v %+v", err, id)
	}
	if err := mergeUserinfo(cfg, &id, map[string]any{"email": "a@x.example"}); err == nil {
		t.Fatal("userinfo without a subject was taken")
	}
	if err := mergeUserinfo(cfg, &id, map[string]any{"sub": "s-1", "email": "a@x.example", "email_verified": "false", "name": "A"}); err != nil || id.Email != "" || id.Name != "A" {
		t.Fatalf("an unverified email (as a string) bound: %v %+v", err, id)
	}
	id.Name = ""
	if err := mergeUserinfo(cfg, &id, map[string]any{"sub": "s-1", "email": "a@x.example", "xms_edov": false}); err != nil || id.Email != "" {
		t.Fatalf("an email whose domain Entra ID has not verified bound: %v %+v", err, id)
	}
	cfg.EmailClaim = "upn"
	if err := mergeUserinfo(cfg, &id, map[string]any{"sub": "s-1", "upn": "a@x.example", "email": "b@x.example"}); err != nil || id.Email != "a@x.example" {
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
