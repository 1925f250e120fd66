package portal_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBackChannelLogout: a logout token naming a provider session (sid)
// ends the sessions signed in under it and no other (not the same
// person's other sessions, not another person's under the same sid when
// the token names its subject); one naming only the person ends every
// session of theirs without disabling them; each ending is recorded as
// their sign-out by the provider; a token used once is refused the
// second time and ends nothing; a token for nobody the portal knows ends
// nothing and is no error.
func TestBackChannelLogout(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	must := func(a portal.Actor, err error) portal.Actor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	signIn := func(sub, email string) portal.Actor {
		return must(d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Email: email}))
	}
	hmi, lead := signIn("sub-hmi", "hmi@ofsted.example"), signIn("sub-lead", "lead@ofsted.example")
	sessions := d.svc.Store().Sessions(time.Now)
	// session stores a session of a signed under the provider session sid.
	session := func(token string, a portal.Actor, sid string) {
		t.Helper()
		data, err := portal.SessionCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{portal.SessionUserKey: a.UserID})
		if err != nil {
			t.Fatal(err)
		}
		c := store.NewSession(ctx)
		if sid != "" {
			c = store.WithIdPSession(c, portal.IdPSessionKey(ofsted, sid))
		}
		if err := sessions.CommitCtx(c, token, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	live := func(token string) bool {
		t.Helper()
		_, found, err := sessions.FindCtx(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	session("hmi-laptop", hmi, "sid-laptop")
	session("hmi-phone", hmi, "sid-phone")
	session("lead-laptop", lead, "sid-laptop") // another person's under the same sid
	session("hmi-old", hmi, "")                // signed in before sids were kept
	from := portal.Actor{ClientIP: "192.0.2.7", RequestID: "req-1", Via: "/auth/:idp/backchannel-logout"}
	token := func(jti, sub, sid string) portal.LogoutToken {
		return portal.LogoutToken{IdP: "ofsted", Issuer: ofsted, Subject: sub, SID: sid, JTI: jti, KeepUntil: time.Now().Add(10 * time.Minute)}
	}
	start, _, _ := d.svc.Store().AuditHead(ctx)

	// By sid and subject: the HMI's laptop session only.
	if ended, err := d.svc.BackChannelLogout(ctx, from, token("jti-1", "sub-hmi", "sid-laptop")); err != nil || !ended {
		t.Fatalf("logout of the laptop session: %v, %v", ended, err)
	}
	for tok, want := range map[string]bool{"hmi-laptop": false, "hmi-phone": true, "lead-laptop": true, "hmi-old": true} {
		if got := live(tok); got != want {
			t.Errorf("after the logout of sid-laptop for sub-hmi, session %s live: %v, want %v", tok, got, want)
		}
	}
	// The same token again: refused, and nothing more ends.
	if _, err := d.svc.BackChannelLogout(ctx, from, token("jti-1", "", "sid-phone")); !errors.Is(err, portal.ErrLogoutTokenUsed) {
		t.Errorf("a replayed jti: %v, want ErrLogoutTokenUsed", err)
	}
	if !live("hmi-phone") {
		t.Error("a replayed token ended a session")
	}
	// Another issuer's token with the same jti is another token.
	if ended, err := d.svc.BackChannelLogout(ctx, from, portal.LogoutToken{IdP: "cafcass", Issuer: d.issuer("cafcass"), SID: "sid-phone", JTI: "jti-1", KeepUntil: time.Now().Add(time.Minute)}); err != nil || ended {
		t.Errorf("another issuer's token for the same sid: %v, %v; want nothing ended", ended, err)
	}
	if !live("hmi-phone") {
		t.Error("another issuer's sid ended a session")
	}

	// By subject alone: every session of the HMI ends (at its next read,
	// the one every request makes), those without a sid too; she may
	// sign in again.
	if ended, err := d.svc.BackChannelLogout(ctx, from, token("jti-2", "sub-hmi", "")); err != nil || !ended {
		t.Fatalf("logout of the person: %v, %v", ended, err)
	}
	if _, err := d.svc.SessionActor(ctx, hmi.UserID, hmi.SessionEpoch, portal.Actor{}); !errors.Is(err, portal.ErrSessionEnded) {
		t.Errorf("the HMI's session after the logout of her subject: %v, want ErrSessionEnded", err)
	}
	if _, err := d.svc.SessionActor(ctx, lead.UserID, lead.SessionEpoch, portal.Actor{}); err != nil {
		t.Errorf("the lead's session after the HMI's logout: %v", err)
	}
	again := signIn("sub-hmi", "hmi@ofsted.example")
	if _, err := d.svc.SessionActor(ctx, again.UserID, again.SessionEpoch, portal.Actor{}); err != nil {
		t.Errorf("the HMI's new session: %v", err)
	}

	// Nobody the portal knows: nothing ends, no error.
	for i, tok := range []portal.LogoutToken{token("jti-3", "sub-nobody", ""), token("jti-4", "", "sid-nobody")} {
		if ended, err := d.svc.BackChannelLogout(ctx, from, tok); err != nil || ended {
			t.Errorf("token %d for nobody: %v, %v", i, ended, err)
		}
	}

	// The trail: one sign-out per ending, in the person's name, from the
	// provider's request, saying the provider ended it.
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d sign-outs recorded, want 2: %+v", len(recs), recs)
	}
	for i, sessionsWord := range []any{nil, "every session"} {
		r := recs[i]
		var detail map[string]any
		json.Unmarshal([]byte(r.Detail), &detail)
		if r.ActorSubject != "sub-hmi" || r.ActorEmail != "hmi@ofsted.example" || r.ClientIP != "192.0.2.7" || r.RequestID != "req-1" || r.Role != "" ||
			detail["session"] != "ended by the identity provider (back-channel logout)" || detail["idp"] != "ofsted" || detail["sessions"] != sessionsWord {
			t.Errorf("sign-out %d: %+v", i, r)
		}
	}
}

// TestLogoutEndsASignInBeingFinished: a logout token taken before a new
// session of the person it names was saved ends that session once it is
// (CheckProviderSession, asked after the save): one naming the provider
// session the ID token names, whenever it was issued (for that person
// only, when it names one), and one naming only the person when issued at
// or after the ID token (a sign-in after the logout goes on). Each ending
// is the person's sign-out by the provider.
func TestLogoutEndsASignInBeingFinished(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	signIn := func(sub, email string) portal.Actor {
		a, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	hmi, lead := signIn("sub-hmi", "hmi@ofsted.example"), signIn("sub-lead", "lead@ofsted.example")
	at := d.svc.Now()
	logout := func(jti, sub, sid string) {
		t.Helper()
		if _, err := d.svc.BackChannelLogout(ctx, portal.Actor{Via: "test"}, portal.LogoutToken{IdP: "ofsted", Issuer: ofsted, Subject: sub, SID: sid, JTI: jti, IssuedAt: at, KeepUntil: at.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	logout("jti-sid", "sub-hmi", "sid-1")
	logout("jti-sub", "sub-lead", "")
	start, _, _ := d.svc.Store().AuditHead(ctx)
	under := func(a portal.Actor, sid string) portal.Actor {
		a.IdPSession = portal.IdPSessionKey(ofsted, sid)
		return a
	}
	for _, c := range []struct {
		name     string
		a        portal.Actor
		issuedAt time.Time
		ended    bool
	}{
		{"under the ended sid, its ID token from before", under(hmi, "sid-1"), at.Add(-time.Minute), true},
		{"under the ended sid, its ID token from after", under(hmi, "sid-1"), at.Add(time.Minute), true},
		{"under another sid", under(hmi, "sid-2"), at.Add(-time.Minute), false},
		{"another person under the ended sid (the token named the HMI)", under(lead, "sid-1"), at.Add(time.Minute), false},
		{"the person logged out, ID token from before", lead, at.Add(-time.Second), true},
		{"the person logged out, ID token issued as the logout was", lead, at, true},
		{"the person logged out, ID token from after (signed in again)", lead, at.Add(time.Second), false},
	} {
		err := d.svc.CheckProviderSession(ctx, c.a, "ofsted", c.issuedAt)
		if got := errors.Is(err, portal.ErrProviderSignedOut); got != c.ended || err != nil && !got {
			t.Errorf("%s: %v, want ended %v", c.name, err, c.ended)
		}
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signout"})
	if err != nil {
		t.Fatal(err)
	}
	var byProvider []string
	for _, r := range recs {
		if strings.Contains(r.Detail, "ended by the identity provider (back-channel logout)") {
			byProvider = append(byProvider, r.ActorSubject)
		}
	}
	if want := []string{"sub-hmi", "sub-hmi", "sub-lead", "sub-lead"}; !slices.Equal(byProvider, want) || len(recs) != len(want) {
		t.Errorf("sign-outs by the provider recorded for the sign-ins it ended: %v, want %v (%+v)", byProvider, want, recs)
	}
}

// TestLogoutBySessionStopsAnUpload: an upload in flight under a provider
// session that a back-channel logout ends stores nothing (its recheck asks
// whether that provider session has ended), as one whose person's
// sessions all ended does not (TestDisabledWhileUploadingStoresNothing);
// another session of the same person, under another provider session,
// uploads on.
func TestLogoutBySessionStopsAnUpload(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	laptop, phone := uploader, uploader
	laptop.IdPSession = portal.IdPSessionKey(uploader.Issuer, "sid-laptop")
	phone.IdPSession = portal.IdPSessionKey(uploader.Issuer, "sid-phone")
	logout := func() {
		if _, err := d.svc.BackChannelLogout(ctx, portal.Actor{Via: "test"}, portal.LogoutToken{IdP: "cafcass", Issuer: uploader.Issuer, Subject: uploader.Subject, SID: "sid-laptop", JTI: "jti-1", IssuedAt: d.svc.Now(), KeepUntil: d.svc.Now().Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		d.later(time.Minute) // the rest of a large file
	}
	f, err := d.mustAccess(laptop, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 11}, &holdingReader{r: strings.NewReader("second file"), hold: logout})
	if perr := (*portal.Error)(nil); !errors.As(err, &perr) || perr.Kind != portal.KindNotSignedIn {
		t.Fatalf("an upload whose provider session ended as it streamed: file %+v, %v; want not signed in", f, err)
	}
	if _, err := d.mustAccess(phone, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.03 c.pdf", Size: 10}, strings.NewReader("third file")); err != nil {
		t.Fatalf("an upload of the same person's other session: %v", err)
	}
	if files, err := d.svc.Store().Files(ctx, v.ID); err != nil || len(files) != 2 {
		t.Fatalf("the visit holds %d files (%v), want the first and the other session's", len(files), err)
	}
}

// TestLogoutLeftUnfinishedIsSwept: a logout by provider session whose
// second look at the sessions failed has taken its token, so the
// provider's retry is refused as a replay; a session whose sign-in raced
// the logout, not found by the first look, lived on to its idle timeout
// or lifetime. The janitor ends each live session signed in under a
// provider session a kept logout token ended (of the person it names, when
// it names one), recorded as the person's sign-out by the provider.
func TestLogoutLeftUnfinishedIsSwept(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	signIn := func(sub, email string) portal.Actor {
		t.Helper()
		a, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	hmi, lead := signIn("sub-hmi", "hmi@ofsted.example"), signIn("sub-lead", "lead@ofsted.example")
	sessions := d.svc.Store().Sessions(time.Now)
	session := func(token string, a portal.Actor, sid string) {
		t.Helper()
		data, err := portal.SessionCodec{}.Encode(time.Now().Add(time.Hour), map[string]any{portal.SessionUserKey: a.UserID})
		if err != nil {
			t.Fatal(err)
		}
		c := store.WithIdPSession(store.NewSession(ctx), portal.IdPSessionKey(ofsted, sid))
		if err := sessions.CommitCtx(c, token, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	live := func(token string) bool {
		t.Helper()
		_, found, err := sessions.FindCtx(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	from := portal.Actor{ClientIP: "192.0.2.7", RequestID: "req-1", Via: "/auth/:idp/backchannel-logout"}
	tok := portal.LogoutToken{IdP: "ofsted", Issuer: ofsted, Subject: "sub-hmi", SID: "sid-1", JTI: "jti-1", IssuedAt: time.Now(), KeepUntil: time.Now().Add(10 * time.Minute)}
	if _, err := d.svc.BackChannelLogout(ctx, from, tok); err != nil {
		t.Fatal(err)
	}
	start, _, _ := d.svc.Store().AuditHead(ctx)
	// What a failed second look leaves: the token taken, and live the
	// session whose sign-in raced the logout.
	session("raced", hmi, "sid-1")
	session("other-sid", hmi, "sid-2")
	session("other-person", lead, "sid-1") // the token names the HMI
	if _, err := d.svc.BackChannelLogout(ctx, from, tok); !errors.Is(err, portal.ErrLogoutTokenUsed) {
		t.Fatalf("the provider's retry: %v, want ErrLogoutTokenUsed", err)
	}
	d.svc.Sweep(ctx)
	for token, want := range map[string]bool{"raced": false, "other-sid": true, "other-person": true} {
		if got := live(token); got != want {
			t.Errorf("after the janitor's round, session %s live: %v, want %v", token, got, want)
		}
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d sign-outs recorded, want 1: %+v", len(recs), recs)
	}
	var detail map[string]any
	json.Unmarshal([]byte(recs[0].Detail), &detail)
	if r := recs[0]; r.ActorSubject != "sub-hmi" || r.Role != "" || detail["session"] != "ended by the identity provider (back-channel logout)" || detail["idp"] != "ofsted" {
		t.Errorf("the sign-out: %+v", r)
	}
}
