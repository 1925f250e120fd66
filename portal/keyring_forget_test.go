package portal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestForgottenKeyStaysForgotten: a visit's key destroyed while requests
// are unwrapping it (a destruction deletes the stored key, then forgets
// it) is not in memory once the destruction has forgotten it. Before, a
// request that had read the wrapped key before it was deleted cached the
// key it unwrapped after the destruction forgot it, and the destroyed key
// stayed in this instance's memory until the next prune round; so did
// the names a request decrypted with it.
func TestForgottenKeyStaysForgotten(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	text, err := crypto.GenerateMasterKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "master.key"), text, 0o600); err != nil {
		t.Fatal(err)
	}
	master, err := crypto.LoadMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	k := NewKeyring(master, st, nil)
	today := calendar.Today(time.Now())
	for round := range 300 {
		id := store.NewID()
		vk, err := crypto.NewVisitKey()
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := master.WrapFor(vk, id)
		if err != nil {
			t.Fatal(err)
		}
		v := store.Visit{ID: id, Reference: fmt.Sprintf("FV-FORGET-%d", round), TitleSealed: []byte("title"), Provider: "Cafcass",
			NotificationDate: today, FieldworkStart: today, RetentionDays: 1, State: "active", Bucket: "forget-" + id, CreatedAt: time.Now(), CreatedBy: "test"}
		if err := st.CreateVisit(ctx, v, store.VisitKey{VisitID: id, Wrapped: wrapped, Fingerprint: vk.Fingerprint(), HeaderSize: 1, CreatedAt: time.Now()}, nil, nil); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				<-start
				// Refused once the key is gone: what matters is what stays.
				if key, err := k.Key(ctx, id); err == nil {
					k.indexedFiles(ctx, id, key)
				}
			})
		}
		wg.Go(func() {
			<-start
			time.Sleep(time.Duration(round%8) * 100 * time.Microsecond)
			if err := st.DeleteKey(ctx, id); err != nil {
				t.Error(err)
			}
			k.Forget(id)
		})
		close(start)
		wg.Wait()
		k.mu.Lock()
		_, held := k.keys[id]
		_, named := k.index.visits[id]
		k.mu.Unlock()
		if held {
			t.Fatalf("round %d: the visit's key is in memory after its destruction forgot it", round)
		}
		if named {
			t.Fatalf("round %d: the visit's decrypted names are in memory after its destruction forgot them", round)
		}
	}
}
