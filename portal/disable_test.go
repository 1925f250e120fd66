package portal_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestDisablePerson: a disabled person's session is refused at its next
// read (the one every request makes), their sign-in is refused and
// writes nothing but the caller's refusal, and enabling them lets them
// sign in again without bringing the old session back. Every user the
// email names is disabled (a subject changed at the provider is a second
// user with the same email); another person is untouched. Both acts are
// recorded as the operator's.
func TestDisablePerson(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	signIn := func(sub, email string) (portal.Actor, error) {
		return d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Email: email})
	}
	must := func(a portal.Actor, err error) portal.Actor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	leaving := must(signIn("sub-leaving", "leaving@ofsted.example"))
	renamed := must(signIn("sub-leaving-new", "leaving@ofsted.example")) // the provider gave her a new subject
	staying := must(signIn("sub-staying", "staying@ofsted.example"))
	session := func(a portal.Actor) error {
		got, err := d.svc.SessionActor(ctx, a.UserID, a.SessionEpoch, portal.Actor{})
		if err == nil && got.UserID != a.UserID {
			t.Fatalf("session of %s read as %q", a.Email, got.UserID)
		}
		if err != nil && got.SignedIn() {
			t.Fatalf("a refused session is still signed in as %s", got.UserID)
		}
		return err
	}
	for _, a := range []portal.Actor{leaving, renamed, staying} {
		if err := session(a); err != nil {
			t.Fatalf("before any disable: %v", err)
		}
	}

	op := portal.OperatorActor("test", "admin disable")
	person := portal.Person{Issuer: ofsted, Email: "Leaving@Ofsted.example"}
	if newly, err := portal.DisableUser(ctx, d.svc.Store(), op, person); err != nil || !newly {
		t.Fatalf("disable: %v, %v", newly, err)
	}
	for _, a := range []portal.Actor{leaving, renamed} {
		if err := session(a); !errors.Is(err, portal.ErrDisabled) {
			t.Errorf("the disabled person's session (%s): %v, want ErrDisabled", a.Subject, err)
		}
	}
	if err := session(staying); err != nil {
		t.Errorf("another person's session: %v", err)
	}
	if _, err := signIn("sub-leaving", "leaving@ofsted.example"); !errors.Is(err, portal.ErrDisabled) {
		t.Errorf("the disabled person signed in: %v", err)
	}
	if _, err := signIn("sub-leaving", "changed@ofsted.example"); !errors.Is(err, portal.ErrDisabled) {
		t.Errorf("the disabled person signed in with a changed email: %v", err)
	}
	if newly, err := portal.DisableUser(ctx, d.svc.Store(), op, person); err != nil || newly {
		t.Errorf("disabling again: %v, %v; want done, not newly", newly, err)
	}
	if _, err := portal.DisableUser(ctx, d.svc.Store(), op, portal.Person{Issuer: ofsted, Email: "nobody@ofsted.example"}); err == nil || !strings.Contains(err.Error(), "nobody has signed in") {
		t.Errorf("disabling someone never signed in: %v", err)
	}
	for _, bad := range []portal.Person{{Issuer: ofsted}, {Issuer: ofsted, Email: "a@b", Subject: "s"}, {Email: "a@b"}} {
		if _, err := portal.DisableUser(ctx, d.svc.Store(), op, bad); err == nil {
			t.Errorf("disable %+v accepted", bad)
		}
	}

	if err := portal.EnableUser(ctx, d.svc.Store(), portal.OperatorActor("test", "admin enable"), portal.Person{Issuer: ofsted, Subject: "sub-leaving"}); err != nil {
		t.Fatal(err)
	}
	if err := session(leaving); !errors.Is(err, portal.ErrSessionEnded) {
		t.Errorf("the session from before the disable, after enable: %v, want ErrSessionEnded", err)
	}
	if err := session(renamed); !errors.Is(err, portal.ErrDisabled) {
		t.Errorf("the other subject, not enabled: %v, want ErrDisabled", err)
	}
	again := must(signIn("sub-leaving", "leaving@ofsted.example"))
	if err := session(again); err != nil {
		t.Errorf("signed in again after enable: %v", err)
	}
	if err := portal.EnableUser(ctx, d.svc.Store(), op, portal.Person{Issuer: ofsted, Subject: "sub-leaving"}); err == nil || !strings.Contains(err.Error(), "is not disabled") {
		t.Errorf("enabling someone not disabled: %v", err)
	}

	rows, err := d.svc.Store().DB().Query(`SELECT action, actor_subject, outcome FROM audit WHERE action IN ('user.disabled', 'user.enabled', 'signin') ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var action, subject, outcome string
		if err := rows.Scan(&action, &subject, &outcome); err != nil {
			t.Fatal(err)
		}
		got = append(got, action+" "+subject+" "+outcome)
	}
	want := []string{
		"signin sub-leaving success", "signin sub-leaving-new success", "signin sub-staying success",
		"user.disabled operator:test success", "user.disabled operator:test success",
		"user.enabled operator:test success", "signin sub-leaving success",
	}
	if !slices.Equal(got, want) {
		t.Errorf("recorded:\n%v\nwant:\n%v", got, want)
	}
}

// TestDisabledWhileUploadingStoresNothing: an uploader disabled while her
// upload streams does not have the file stored once the body ends, as one
// removed from the visit does not (TestRemovedWhileUploadingStoresNothing):
// the decision taken again before the commit reads the person again.
func TestDisabledWhileUploadingStoresNothing(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	disable := func() {
		if _, err := portal.DisableUser(ctx, d.svc.Store(), portal.OperatorActor("test", "admin disable"), portal.Person{Issuer: uploader.Issuer, Subject: uploader.Subject}); err != nil {
			t.Fatal(err)
		}
		d.later(time.Minute) // the rest of a large file
	}
	acc := d.mustAccess(uploader, policy.FileUpload)
	f, err := acc.Upload(ctx, portal.NewFile{Name: "1.02 b.pdf", Size: 11}, &holdingReader{r: strings.NewReader("second file"), hold: disable})
	if !errors.Is(err, portal.ErrDisabled) {
		t.Fatalf("an upload whose uploader was disabled as it streamed: file %+v, %v; want ErrDisabled", f, err)
	}
	if files, err := d.svc.Store().Files(ctx, v.ID); err != nil || len(files) != 1 {
		t.Fatalf("the visit holds %d files (%v), want the one stored before", len(files), err)
	}
}

// TestDisabledEmailRefusedUnderANewSubject: a person disabled is refused
// when their provider gives them a new subject (a tenant moved, an
// account made again) and they sign in with the same verified email:
// otherwise that sign-in would make a new, enabled user and let them in.
// Sign-in without an email is judged by subject alone.
func TestDisabledEmailRefusedUnderANewSubject(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	signIn := func(sub, email string) error {
		_, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Email: email})
		return err
	}
	if err := signIn("sub-old", "leaving@ofsted.example"); err != nil {
		t.Fatal(err)
	}
	if err := signIn("sub-other", ""); err != nil {
		t.Fatal(err)
	}
	op := portal.OperatorActor("test", "admin disable")
	for _, p := range []portal.Person{{Issuer: ofsted, Subject: "sub-old"}, {Issuer: ofsted, Subject: "sub-other"}} {
		if _, err := portal.DisableUser(ctx, d.svc.Store(), op, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := signIn("sub-new", "Leaving@ofsted.example"); !errors.Is(err, portal.ErrDisabled) {
		t.Errorf("the disabled person under a new subject: %v, want ErrDisabled", err)
	}
	if err := signIn("sub-new-2", ""); err != nil {
		t.Errorf("a person without an email, not disabled: %v", err)
	}
	if err := portal.EnableUser(ctx, d.svc.Store(), op, portal.Person{Issuer: ofsted, Email: "leaving@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	if err := signIn("sub-new", "leaving@ofsted.example"); err != nil {
		t.Errorf("enabled again, under the new subject: %v", err)
	}
}

// TestDisableRemovesSessions: disabling a person removes their sessions'
// rows at once (every user the email names, live sessions and those ended
// but not yet swept), so none lingers until its idle timeout; another
// person's sessions stay.
func TestDisableRemovesSessions(t *testing.T) {
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
	leaving, renamed, staying := signIn("sub-leaving", "leaving@ofsted.example"), signIn("sub-leaving-new", "leaving@ofsted.example"), signIn("sub-staying", "staying@ofsted.example")
	sessions := d.svc.Store().Sessions(time.Now)
	save := func(token string, a portal.Actor, expiry time.Time) {
		t.Helper()
		data, err := portal.SessionCodec{}.Encode(expiry, map[string]any{portal.SessionUserKey: a.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if err := sessions.CommitCtx(store.NewSession(ctx), token, data, expiry); err != nil {
			t.Fatal(err)
		}
	}
	hour := time.Now().Add(time.Hour)
	save("leaving-laptop", leaving, hour)
	save("leaving-phone", leaving, hour)
	save("leaving-idle", leaving, time.Now().Add(-time.Second)) // ended, not yet swept
	save("renamed", renamed, hour)
	save("staying", staying, hour)
	if _, err := portal.DisableUser(ctx, d.svc.Store(), portal.OperatorActor("test", "admin disable"), portal.Person{Issuer: ofsted, Email: "leaving@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, err := d.svc.Store().DB().Query(`SELECT token FROM sessions ORDER BY token`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var tok string
		if err := rows.Scan(&tok); err != nil {
			t.Fatal(err)
		}
		left = append(left, tok)
	}
	if want := []string{"staying"}; !slices.Equal(left, want) {
		t.Errorf("sessions left after the disable: %v, want %v", left, want)
	}
}
