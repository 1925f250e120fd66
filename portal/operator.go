package portal

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Operator tasks: acts of a person on the server itself (the command line),
// which need only the database. Each is recorded as the operator's.

// DefaultDBPath is where the SQLite database lives unless PORTAL_DB_PATH
// says otherwise.
const DefaultDBPath = "var/portal.db"

// DBPath is the database path the environment names.
func DBPath(getenv func(string) string) string {
	if p := strings.TrimSpace(getenv("PORTAL_DB_PATH")); p != "" {
		return p
	}
	return DefaultDBPath
}

// OpenStore opens the database the environment names. It must exist
// already unless create is set: an operator's typo must not make an empty
// database.
func OpenStore(ctx context.Context, getenv func(string) string, create bool) (*store.Store, error) {
	path := DBPath(getenv)
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("database %s: %w (set PORTAL_DB_PATH)", path, err)
		}
	}
	return store.Open(ctx, path)
}

func operatorRec(a Actor, action string, detail map[string]any) store.AuditRecord {
	return newRec(time.Now(), a, action, "", "success", detail)
}

// GrantRole grants a portal-wide role to the person who signs in from
// issuer with email; it binds at their next sign-in.
func GrantRole(ctx context.Context, st *store.Store, a Actor, role, issuer, email string) error {
	if role != store.RoleAdministrator {
		return fmt.Errorf("unknown role %q: the only portal-wide role is administrator", role)
	}
	if issuer == "" || email == "" {
		return errors.New("the issuer and the email are required")
	}
	email = strings.ToLower(email)
	rec := operatorRec(a, "portal_role.granted", map[string]any{"role": role, "issuer": issuer, "email": email})
	return st.GrantPortalRole(ctx, role, issuer, email, rec.Time, rec)
}

// RotateMasterKey re-wraps every live visit key from one master key to
// another, in one transaction: either every key moves or none does.
func RotateMasterKey(ctx context.Context, st *store.Store, a Actor, from, to *crypto.MasterKey) (int, error) {
	rec := operatorRec(a, "master_key.rotated", map[string]any{"from": from.Recipients()[0], "to": to.Recipients()[0]})
	return st.RewrapKeys(ctx, func(visitID string, wrapped []byte) ([]byte, error) {
		k, err := from.Unwrap(wrapped)
		if err != nil {
			return nil, fmt.Errorf("visit %s: %w", visitID, err)
		}
		return to.Wrap(k)
	}, rec)
}

// AuditSummary is what a verification of the whole trail found.
type AuditSummary struct {
	Records, Checkpoints int
}

// VerifyAudit walks the whole audit chain and its signed checkpoints; a
// broken link is a *store.ChainError naming the record.
func VerifyAudit(ctx context.Context, st *store.Store, pub ed25519.PublicKey) (AuditSummary, error) {
	recs, err := st.AuditRecords(ctx, store.AuditFilter{})
	if err != nil {
		return AuditSummary{}, err
	}
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return AuditSummary{}, err
	}
	return AuditSummary{len(recs), len(cps)}, store.VerifyAudit(recs, cps, pub)
}
