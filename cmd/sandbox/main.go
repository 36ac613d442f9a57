// Command sandbox runs idp's local stack: up (foreground, or --detach), down, image push.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alexpermiakov/idp/cmd/sandbox/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := stack.NewCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		stop()
		os.Exit(1)
	}
}
