// Command portal runs the inspection evidence portal and its operator tasks.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	// The container image has no /usr/share/zoneinfo: the portal's dates
	// are London's wherever it runs.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		var se *statusError
		if errors.As(err, &se) {
			os.Exit(se.status)
		}
		os.Exit(1)
	}
}
