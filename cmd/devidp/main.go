// Command devidp runs the development OpenID Provider on its own (make run
// starts it inside the dev stack). Development and tests only.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	if len(os.Args) > 1 {
		fmt.Println("Usage: devidp\n\nServes the development OpenID Provider (issuers /cafcass and /ofsted) with the demo accounts.\nEnvironment: DEVIDP_ADDR (127.0.0.1:5556), DEVIDP_BASE_URL (http://+addr), PORTAL_PUBLIC_URL (http://127.0.0.1:8080).\nFor development and tests only.")
		return
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	addr := env("DEVIDP_ADDR", "127.0.0.1:5556")
	base := env("DEVIDP_BASE_URL", "http://"+addr)
	h, err := devidp.New(devidp.DemoConfig(base, env("PORTAL_PUBLIC_URL", "http://127.0.0.1:8080")))
	if err != nil {
		log.Error("devidp", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Info("dev identity provider listening", "issuers", []string{base + "/cafcass", base + "/ofsted"})
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("devidp", "err", err)
		os.Exit(1)
	}
}
