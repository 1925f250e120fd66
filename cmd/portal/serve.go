package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/metrics"
	"github.com/ofsted-portal/evidence/web"
)

// serve runs the portal: the domain, its HTTP door, and, when
// PORTAL_METRICS_ADDR is set, the metrics on a listener of their own.
func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: portal serve\n\nRuns the portal. All configuration comes from PORTAL_* environment variables (see README).")
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	cfg, err := portal.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	engine, err := policy.New()
	if err != nil {
		return err
	}
	m := metrics.New(engine.PolicyIDs())
	svc, err := portal.New(ctx, cfg, append([]portal.Option{portal.WithMetrics(m)}, domainOptions...)...)
	if err != nil {
		return err
	}
	defer svc.Close()
	// A restore left part-way is finished before anything is served; a
	// database restored by other means is refused.
	if rep, err := svc.CheckRestored(ctx); err != nil {
		return err
	} else if rep.MarkSeq > 0 {
		svc.Log().Warn("restore finished before serving", "restored_seq", rep.RestoredSeq, "anchored_seq", rep.AnchoredSeq, "destroyed_again", len(rep.Reapplied))
	}
	srv, err := web.New(svc, web.WithMetrics(m))
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stop, err := m.Serve(cfg.MetricsAddr, svc.Log())
		if err != nil {
			return err
		}
		defer stop()
	}
	return srv.Serve(ctx)
}
