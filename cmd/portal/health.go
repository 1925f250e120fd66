package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// health asks the portal running beside it (PORTAL_ADDR) whether it is
// ready, for container health checks: the image has no shell and no curl,
// so the check is the portal binary itself.
func health(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	live := fs.Bool("live", false, "ask whether the process is alive (/healthz) rather than ready to serve (/readyz)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal health [--live]\n\nAsks the portal listening on PORTAL_ADDR whether it is ready (GET /readyz) or, with --live,\nalive (GET /healthz). Exit status 0: yes; 1: no, with what it answered. For container health checks.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	url := "http://" + localAddr(portal.PartialConfig(os.Getenv).Addr) + path
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return errors.New("health: " + url + " answered " + resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	fmt.Println("ok:", url)
	return nil
}

// localAddr is where a process beside the portal reaches it: a listener on
// every interface is reached on loopback.
func localAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
