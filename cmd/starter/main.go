// Command starter is idp's CLI: start workflows, approve or reject them, follow them.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/alexpermiakov/idp/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
