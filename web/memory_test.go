package web_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
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

	idle, stop := sampleHeap()
	const size = 1 << 30
	src := newEvidence(9, size)
	f := decode[fileResp](t, uploader.upload(v.ID, "big.bin", src, size), http.StatusCreated)
	peak := stop()
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

// TestRangeDownloadMemoryIsFlat: ranges that begin and end inside
// segments (a resumed download, a download manager's parts) are read and
// decrypted in blocks, as whole segments are: four at once of a 96 MiB
// file, each cutting its first and last 32 MiB segment, keep the heap
// within 128 MiB of its idle level, and serve the right bytes. Before, a
// part of a segment was fetched and decrypted whole into memory, twice
// over, two segments at a time: about 128 MiB for one such range.
func TestRangeDownloadMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads 4 × 96 MiB")
	}
	ts := startStack(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	v := ts.demoVisit(t)
	const size = 96 << 20
	all := evidenceBytes(11, size)
	f := uploader.uploadItem(v.ID, "1.01 Large.bin", "", all)
	first, last := int64(1), int64(size-2)
	want := sha256.Sum256(all[first : last+1])
	all = nil

	idle, stop := sampleHeap()
	var dl sync.WaitGroup
	for range 4 {
		dl.Add(1)
		go func() {
			defer dl.Done()
			req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
			resp, err := lead.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			if resp.StatusCode != http.StatusPartialContent || err != nil || n != last-first+1 || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("range download: %d, %d bytes (%v), the right ones: %v", resp.StatusCode, n, err, bytes.Equal(h.Sum(nil), want[:]))
			}
		}()
	}
	dl.Wait()
	peak := stop()
	grew := int64(peak) - int64(idle)
	t.Logf("heap idle %d MiB, peak %d MiB during 4 ranges cutting their segments", idle>>20, peak>>20)
	if grew > 128<<20 {
		t.Fatalf("heap grew by %d MiB during 4 range downloads; the bound is 128 MiB", grew>>20)
	}
}

// sampleHeap measures the heap's live objects now, after a collection
// (idle), then every 5 ms until stop, which returns the peak seen.
func sampleHeap() (idle uint64, stop func() (peak uint64)) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	heap := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	idle = heap()
	var top uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			top = max(top, heap())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return idle, func() uint64 {
		close(done)
		wg.Wait()
		return top
	}
}
