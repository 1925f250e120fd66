package s3test

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		ok      bool
		want    *Server
		wantErr string
	}{
		{name: "unset", env: map[string]string{}},
		{name: "defaults", ok: true,
			env:  map[string]string{"PORTAL_TEST_S3_ENDPOINT": "s3.example:443", "PORTAL_TEST_S3_ACCESS_KEY": "a", "PORTAL_TEST_S3_SECRET_KEY": "s"},
			want: &Server{Name: "external", Endpoint: "s3.example:443", AccessKey: "a", SecretKey: "s", Region: "us-east-1"}},
		{name: "everything", ok: true,
			env: map[string]string{"PORTAL_TEST_S3_ENDPOINT": "s3.example:443", "PORTAL_TEST_S3_ACCESS_KEY": "a", "PORTAL_TEST_S3_SECRET_KEY": "s",
				"PORTAL_TEST_S3_REGION": "eu-west-2", "PORTAL_TEST_S3_SECURE": "true"},
			want: &Server{Name: "external", Endpoint: "s3.example:443", AccessKey: "a", SecretKey: "s", Region: "eu-west-2", Secure: true}},
		{name: "no keys", ok: true, wantErr: "PORTAL_TEST_S3_ACCESS_KEY",
			env: map[string]string{"PORTAL_TEST_S3_ENDPOINT": "s3.example:443"}},
		{name: "secure not a boolean", ok: true, wantErr: `PORTAL_TEST_S3_SECURE="yes please"`,
			env: map[string]string{"PORTAL_TEST_S3_ENDPOINT": "s3.example:443", "PORTAL_TEST_S3_ACCESS_KEY": "a", "PORTAL_TEST_S3_SECRET_KEY": "s",
				"PORTAL_TEST_S3_SECURE": "yes please"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok, err := parseEnv(func(k string) string { return tc.env[k] })
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			if s.Name != tc.want.Name || s.Endpoint != tc.want.Endpoint || s.AccessKey != tc.want.AccessKey ||
				s.SecretKey != tc.want.SecretKey || s.Region != tc.want.Region || s.Secure != tc.want.Secure {
				t.Fatalf("got %+v, want %+v", s, tc.want)
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("Stop of an external server: %v", err)
			}
		})
	}
}

// TestFailedStartCleansUp: a server that cannot start leaves no process
// and no folder behind.
func TestFailedStartCleansUp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(context.Context, Options) (*Server, error)
		bin   string
	}{
		{"versitygw exits at once", StartVersityGW, "/bin/false"},
		{"minio exits at once", StartMinIO, "/bin/false"},
		{"ceph programs missing", StartCeph, "/nonexistent/radosgw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			if _, err := tc.start(context.Background(), Options{Binary: tc.bin}); err == nil {
				t.Fatal("started")
			} else {
				t.Logf("error: %v", err)
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func TestCephWantsAnEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/old", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := StartCeph(context.Background(), Options{Binary: "/nonexistent/radosgw", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "empty folder") {
		t.Fatalf("err = %v, want one about an empty folder", err)
	}
	if _, err := os.Stat(dir + "/old"); err != nil {
		t.Fatalf("the caller's folder was touched: %v", err)
	}
}
