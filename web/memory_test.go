package web_test

import (
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// TestUploadMemoryIsFlat uploads 1 GiB, teed to the malware scanner as it
// arrives, and checks that the heap stays within 64 MiB of its idle level:
// memory must not grow with file size. The portal,
// its client and the sampler share this process, so the bound covers all of
// them.
func TestUploadMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 1 GiB")
	}
	ts := startStack(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	v := ts.demoVisit(t)

	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	idle := heap()

	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, heap())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	const size = 1 << 30
	src := newEvidence(9, size)
	f := decode[fileResp](t, uploader.upload(v.ID, "big.bin", src, size), http.StatusCreated)
	close(stop)
	wg.Wait()
	if f.SHA256 != src.sum() || f.Size != size {
		t.Fatalf("uploaded %+v", f)
	}
	// The stack scans uploads: the 1 GiB went through clamd as it came.
	if ts.Clamd != nil && f.Scan != "clean" {
		t.Fatalf("the 1 GiB upload was not scanned clean: %+v", f)
	}
	grew := int64(peak) - int64(idle)
	t.Logf("heap idle %d MiB, peak %d MiB during a 1 GiB upload", idle>>20, peak>>20)
	if grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB during a 1 GiB upload; the bound is 64 MiB", grew>>20)
	}
}
