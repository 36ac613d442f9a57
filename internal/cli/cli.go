// Package cli implements cmd/starter, the command people use to start idp's workflows,
// approve or reject them, and follow them. Exit codes: 0 the run is done, 1 it failed or was
// rejected, 2 bad input (nothing was started or recorded), 3 Temporal could not be reached,
// 4 a drift check (drift --wait) found drift.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/temporalx"
)

// Exit codes of the CLI contract.
const (
	ExitDone     = 0
	ExitFailed   = 1
	ExitBadInput = 2
	// ExitUnreachable: Temporal could not be reached, so nothing was started or recorded.
	ExitUnreachable = 3
)

// ExitError carries an exit code with its one-line cause.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func badInput(err error) error { return &ExitError{Code: ExitBadInput, Err: err} }
func failed(err error) error   { return &ExitError{Code: ExitFailed, Err: err} }

// Code returns the exit code for err.
func Code(err error) int {
	if err == nil {
		return ExitDone
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailed
}

// globals are the flags every command shares.
type globals struct {
	config string
	as     string
	out    io.Writer
	errOut io.Writer
	// dial connects to Temporal (client.Dial when nil); tests replace it.
	dial func(client.Options) (client.Client, error)
	// namespace is the Temporal namespace client() connected to, for Web UI links.
	namespace string
	// clock is replaced in tests; it is when decisions are signed.
	clock func() time.Time
	// notes are lines for stderr held until the request is taken (an unsigned request, a
	// tag not looked up): a refused request prints its one error line and nothing else.
	notes []string
	// ecr replaces the tooling account's ECR in tests (checkTags).
	ecr imageLister
}

func (g *globals) now() time.Time {
	if g.clock != nil {
		return g.clock()
	}
	return time.Now()
}

// normalizeName is how a person's name is compared and how their key file is named.
func normalizeName(who string) string { return strings.ToLower(strings.TrimSpace(who)) }

func (g *globals) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(config.Path(g.config))
	if err != nil {
		return nil, badInput(err)
	}
	return cfg, nil
}

// identity is --as, else $IDP_USER, else git's user.email, else $USER.
func (g *globals) identity() string {
	if g.as != "" {
		return g.as
	}
	if u := os.Getenv("IDP_USER"); u != "" {
		return u
	}
	if out, err := exec.Command("git", "config", "user.email").Output(); err == nil {
		if s := strings.TrimSpace(string(out)); s != "" {
			return s
		}
	}
	return os.Getenv("USER")
}

func (g *globals) client() (client.Client, error) {
	opts, err := temporalx.Options(quietLogger{})
	if err != nil {
		return nil, badInput(err)
	}
	g.namespace = opts.Namespace
	dial := g.dial
	if dial == nil {
		dial = client.Dial
	}
	c, err := dial(opts)
	if err != nil {
		return nil, &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("connecting to Temporal at %s, namespace %s (set TEMPORAL_ADDRESS or a TEMPORAL_PROFILE, or start the sandbox with make sandbox-up): %w", opts.HostPort, opts.Namespace, err)}
	}
	return c, nil
}

// NewRoot returns the starter command tree writing to out and errOut.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	return newRoot(&globals{out: out, errOut: errOut})
}

// newRoot builds the command tree on g, whose dial and clock tests replace.
func newRoot(g *globals) *cobra.Command {
	out, errOut := g.out, g.errOut
	root := &cobra.Command{
		Use:   "starter",
		Short: "Start, approve and follow idp's bootstrap and promotion workflows",
		Long: `starter is idp's command line. It starts workflows on Temporal, approves or rejects
them, and follows them. Configuration comes from --config, else $IDP_CONFIG, else ./idp.yaml.

Temporal is configured as for Temporal's own CLI: a profile of the TOML config file
($TEMPORAL_CONFIG_FILE, $TEMPORAL_PROFILE), overridden by TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, TEMPORAL_API_KEY and TEMPORAL_TLS_* (default localhost:7233, default).

Exit codes: 0 done, 1 the run failed or was rejected, 2 bad input (nothing started),
3 Temporal could not be reached, 4 drift found (drift --wait).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.PersistentFlags().StringVar(&g.config, "config", "", "idp.yaml to use (default $IDP_CONFIG, else ./idp.yaml)")
	root.PersistentFlags().StringVar(&g.as, "as", "", "who you are (default $IDP_USER, else git user.email, else $USER)")
	root.AddCommand(newBootstrapCmd(g), newDestroyCmd(g), newPromoteCmd(g), newApproveCmd(g), newRejectCmd(g), newStatusCmd(g), newListCmd(g), newWatchCmd(g), newImageWatchCmd(g), newHistoryCmd(g), newCodecServerCmd(g),
		newFreezeCmd(g), newUnfreezeCmd(g), newFreezesCmd(g), newPinCmd(g, false), newPinCmd(g, true))
	root.AddCommand(newDriftCmd(g))
	root.PersistentPostRun = func(*cobra.Command, []string) { g.flushNote() }
	usageErrors(root)
	return root
}

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, out, errOut io.Writer) int {
	root := NewRoot(out, errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(errOut, "error:", err)
	}
	return Code(err)
}

// usageErrors makes every error cobra reports about the command line itself (an unknown
// command or flag, a wrong number of arguments) bad input, exit code 2, by hooking where cobra
// produces them instead of matching its message text.
func usageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	// A runnable root validates its arguments, so an unknown command reaches Args below.
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return badInput(fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath()))
		}
		return nil
	}
	for _, c := range root.Commands() {
		if validate := c.Args; validate != nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if err := validate(c, args); err != nil {
					return badInput(err)
				}
				return nil
			}
		}
	}
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...interface{}) {}
func (quietLogger) Info(string, ...interface{})  {}
func (quietLogger) Warn(string, ...interface{})  {}
func (quietLogger) Error(string, ...interface{}) {}
