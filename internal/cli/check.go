package cli

import (
	"context"
	"errors"
	"io"

	"go.temporal.io/sdk/client"
)

// errChecked stops a command where it would dial Temporal: everything before that passed.
var errChecked = errors.New("checked: stopped before contacting Temporal")

// Check runs a starter command line as far as it goes without Temporal: cobra's parsing, each
// command's validation, idp.yaml (--config, else $IDP_CONFIG, else ./idp.yaml) and the checks
// made against it (the environment exists; the tag enters an environment of the service's
// path). It returns nil when starter would go on to contact Temporal, else the error starter
// would print, typed as an *ExitError with its exit code. Nothing is printed, nothing dialled.
// CI configuration tests use it to prove that every starter invocation they ship parses.
func Check(ctx context.Context, args []string) error {
	g := &globals{out: io.Discard, errOut: io.Discard,
		dial: func(client.Options) (client.Client, error) { return nil, errChecked }}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if errors.Is(err, errChecked) {
		return nil
	}
	if err == nil {
		// Only help output gets here (no command, or --help): nothing that would run.
		return badInput(errors.New("no command: starter would only print help"))
	}
	return err
}
