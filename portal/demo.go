package portal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// DemoReference is the reference of the demo visit that development stacks
// seed.
const DemoReference = "FV-DEMO"

// DemoMember is one demo account's role on the demo visit.
type DemoMember struct {
	IdP   string // name of the identity provider
	Email string
	Role  string // a visit role, or "administrator"
}

// DemoMembers are the development accounts (see the dev identity provider).
var DemoMembers = []DemoMember{
	{"ofsted", "admin@ofsted.example", store.RoleAdministrator},
	{"ofsted", "lead@ofsted.example", policy.RoleLeadInspector},
	{"ofsted", "hmi@ofsted.example", policy.RoleInspector},
	{"ofsted", "qam@ofsted.example", policy.RoleQAManager},
	{"ofsted", "sao@ofsted.example", policy.RoleAnalyst},
	{"cafcass", "coordinator@cafcass.example", policy.RoleProviderCoordinator},
	{"cafcass", "uploader@cafcass.example", policy.RoleProviderUploader},
}

// SeedDemo makes sure the demo visit exists, accepts uploads today, and has
// every demo account in its role. It is for development stacks only. A demo
// visit from an earlier run is kept (with its files) and re-dated when it no
// longer accepts uploads.
func (s *Service) SeedDemo(ctx context.Context) (store.Visit, error) {
	notification := s.Today()
	if !s.cal.IsWorkingDay(notification) {
		notification = s.cal.PreviousWorkingDay(notification)
	}
	fieldwork := s.cal.AddWorkingDays(notification, 5)
	v, err := s.store.VisitByReference(ctx, DemoReference)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v, err = s.createVisit(ctx, "system", NewVisit{
			Reference: DemoReference, Title: "Demo focused visit (development data only)", Provider: "Cafcass",
			NotificationDate: notification.Format(time.DateOnly), FieldworkStart: fieldwork.Format(time.DateOnly),
		}, s.systemRec("", "visit.created", "", nil))
		if err != nil {
			return store.Visit{}, fmt.Errorf("seed demo visit: %w", err)
		}
	case err != nil:
		return store.Visit{}, err
	case !s.acceptsUploads(ctx, v):
		if err := s.store.SetVisitDates(ctx, v.ID, notification, fieldwork); err != nil {
			return store.Visit{}, err
		}
		v.NotificationDate, v.FieldworkStart = notification, fieldwork
		s.log.Info("demo visit re-dated so that it accepts uploads today", "visit", v.ID)
	}
	for _, m := range DemoMembers {
		p, ok := s.idp(m.IdP)
		if !ok {
			return store.Visit{}, fmt.Errorf("seed demo: no identity provider %q configured", m.IdP)
		}
		if m.Role == store.RoleAdministrator {
			err = s.store.GrantPortalRole(ctx, m.Role, p.Issuer, m.Email, s.now(),
				s.systemRec("", "portal_role.granted", "", map[string]any{"role": m.Role, "issuer": p.Issuer, "email": m.Email}))
		} else {
			_, _, err = s.store.PutMember(ctx, store.Member{VisitID: v.ID, Email: m.Email, Issuer: p.Issuer, Role: m.Role}, s.now(),
				s.systemRec(v.ID, "", "", map[string]any{"email": m.Email, "issuer": p.Issuer, "role": m.Role}))
		}
		if err != nil {
			return store.Visit{}, fmt.Errorf("seed demo member %s: %w", m.Email, err)
		}
	}
	return v, nil
}

// acceptsUploads reports whether v takes evidence today.
func (s *Service) acceptsUploads(ctx context.Context, v store.Visit) bool {
	st, err := s.status(ctx, v)
	return err == nil && st.AcceptsUploads
}
