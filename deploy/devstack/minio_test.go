package devstack

import (
	"context"
	"net/http"
	"os"
	"testing"
)

// TestMinIOStartsWithItsBucketsLoaded: StartMinIO returns only once MinIO
// has loaded its buckets' metadata. Until then MinIO answers requests, and
// its load, when it ends, puts back in memory the configuration it read
// from disk: a lifecycle rule set on a new bucket meanwhile was undone a
// few milliseconds after MinIO had accepted it, and read as absent (a
// legal hold's removal of the rule, likewise, came back as the rule). The
// load took 50 to 250 ms after /minio/health/ready first answered, in 7 of
// 10 starts on an idle machine. MinIO's cluster check answers 200 only
// once the load is done.
func TestMinIOStartsWithItsBucketsLoaded(t *testing.T) {
	bin, err := FindMinIO()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
	for i := range 5 {
		m, err := StartMinIO(context.Background(), MinIOOptions{Binary: bin, DataDir: t.TempDir(), AccessKey: "starts", SecretKey: "starts-secret"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get("http://" + m.Endpoint + "/minio/health/cluster")
		m.Stop()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("start %d: MinIO answered its cluster check %d as StartMinIO returned: its buckets' metadata not loaded yet", i, resp.StatusCode)
		}
	}
}
