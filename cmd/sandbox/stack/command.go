package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sivchari/kumo"
	"github.com/spf13/cobra"

	"github.com/alexpermiakov/idp/internal/config"
)

// NewCommand returns the sandbox command tree.
func NewCommand() *cobra.Command {
	var dir string
	root := &cobra.Command{
		Use:           "sandbox",
		Short:         "idp's local stack: Temporal, AWS emulators, terraform, a Git repository and the worker",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&dir, "dir", ".sandbox", "state directory of the stack")
	// The subcommands read dir when they run, once the flags are parsed.
	root.AddCommand(newUpCommand(&dir), newDownCommand(&dir), newImageCommand(&dir), newEmulatorCommand())
	return root
}

// newUpCommand returns `sandbox up`, which starts the stack with its state in *dir.
func newUpCommand(dir *string) *cobra.Command {
	var opts Options
	var detach bool
	up := &cobra.Command{
		Use:   "up [--detach] [--no-worker] [--services N]",
		Short: "Start the stack; in the foreground until Ctrl-C, or detached with --detach",
		Example: `  bin/sandbox up                 # foreground, Ctrl-C stops everything
  bin/sandbox up --detach        # returns once every part is ready
  bin/sandbox up --detach --no-worker && bin/worker   # run the worker yourself
  bin/sandbox up --detach --services 100              # 100 generated services svc-001 ... svc-100 too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Dir, opts.Log = *dir, cmd.OutOrStdout()
			if detach {
				return upDetached(cmd.Context(), *dir, os.Args[1:])
			}
			s, err := Up(cmd.Context(), opts)
			if err != nil {
				return err
			}
			defer s.Close()
			return s.Wait(cmd.Context())
		},
	}
	up.Flags().BoolVar(&detach, "detach", false, "start in the background and return once ready")
	up.Flags().BoolVar(&opts.NoWorker, "no-worker", false, "do not start the worker (run bin/worker yourself)")
	up.Flags().BoolVar(&opts.Encrypt, "encrypt", false, "encrypt payloads, with a codec server the Web UI decodes through")
	up.Flags().IntVar(&opts.Services, "services", 0, "add this many generated services (svc-001, ...) beside the real ones, for load tests")
	up.Flags().IntVar(&opts.CodecPort, "codec-port", 8081, "codec server port (with --encrypt)")
	up.Flags().StringVar(&opts.Root, "root", ".", "idp checkout whose infra/, argocd/ and helm-charts/ seed the Git repository")
	up.Flags().StringVar(&opts.BinDir, "bin", "bin", "directory holding the temporal and worker binaries")
	up.Flags().IntVar(&opts.TemporalPort, "temporal-port", 7233, "Temporal frontend port")
	up.Flags().IntVar(&opts.UIPort, "ui-port", 8233, "Temporal Web UI port")
	return up
}

// newDownCommand returns `sandbox down`, which stops the stack whose state is in *dir.
func newDownCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop a stack started with up, and everything it started",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return Down(*dir, cmd.OutOrStdout()) },
	}
}

// newImageCommand returns `sandbox image`, which plays CI against the stack whose state is in
// *dir.
func newImageCommand(dir *string) *cobra.Command {
	image := &cobra.Command{Use: "image", Short: "Play CI: put images into the tooling account's ECR"}
	var push PushOptions
	pushCmd := &cobra.Command{
		Use:   "push SERVICE TAG [--like OTHER_TAG] [--broken] [--no-event]",
		Short: "Put an image with TAG into the tooling ECR and deliver its push event to the worker",
		Long: `push puts an image into the tooling ECR as CI does, then delivers the ECR "Image Action"
push event to the worker's endpoint as Amazon EventBridge would (the secret in the
connection's header): a sha-* tag starts its promotion to dev, a vX.Y.Z one to staging,
with no starter command. --no-event pushes only, for promoting by hand.`,
		Example: `  bin/sandbox image push time-service sha-1a2b3c4
  bin/sandbox image push time-service v1.2.3 --like sha-1a2b3c4   # same digest, as CI tags a release
  bin/sandbox image push time-service sha-9f8e7d6 --broken        # never becomes healthy once deployed
  bin/sandbox image push time-service sha-5d6e7f8 --no-event      # no event: promote it yourself`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			push.Service, push.Tag = args[0], args[1]
			return pushImage(cmd, *dir, push)
		},
	}
	pushCmd.Flags().StringVar(&push.Like, "like", "", "give the new tag the digest this tag has")
	pushCmd.Flags().BoolVar(&push.Broken, "broken", false, "an image whose pods never become ready")
	pushCmd.Flags().BoolVar(&push.NoEvent, "no-event", false, "push without delivering the ECR push event to the worker (promote by hand)")
	breakCmd := &cobra.Command{
		Use:   "break SERVICE TAG",
		Short: "Make a pushed image go bad at run time: its pods stop becoming ready and the Deployments running it roll",
		Long: `Plays an image that turns bad after it was deployed and ran Healthy (as in a soak): in every env,
its pods never become ready from now on, and each Deployment running it rolls out new pods, as
when nodes are replaced. They miss the progress deadline (30 s in the sandbox) and Argo CD
reports the Application Degraded.`,
		Example: `  bin/sandbox image break time-service sha-6a7b8c9   # Degraded about 30 s later wherever it runs`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			restarted, err := BreakImage(cmd.Context(), *dir, args[0], args[1], cmd.OutOrStdout())
			if err == nil && len(restarted) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no Deployment runs %s %s now; its pods will never become ready where it is deployed\n", args[0], args[1])
			}
			return err
		},
	}
	image.AddCommand(pushCmd, breakCmd)
	return image
}

// pushImage runs `sandbox image push`: it pushes the image to the tooling ECR of the stack
// whose state is in dir and, for a broken image, tells every env's kwok.
func pushImage(cmd *cobra.Command, dir string, push PushOptions) error {
	cfg, err := config.Load(filepath.Join(dir, "idp.yaml"))
	if err != nil {
		return fmt.Errorf("is the sandbox up? %w", err)
	}
	digest, err := PushImage(cmd.Context(), cfg.Tooling.AWS.Endpoint, push)
	if err != nil {
		return err
	}
	if push.Broken {
		// Every env's kwok keeps this image's pods Running but never Ready. idp pins images by
		// tag and digest (repo:tag@sha256:…), so that is the image's suffix in a pod spec.
		suffix := "/" + cfg.Tooling.Repositories[push.Service] + ":" + push.Tag + "@" + digest
		for _, env := range cfg.Environments {
			if err := markBroken(cmd.Context(), env.ArgoCD.Kubeconfig, suffix); err != nil {
				return fmt.Errorf("marking %s broken in %s: %w", suffix, env.Name, err)
			}
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s:%s %s\n", cfg.Tooling.Repositories[push.Service], push.Tag, digest)
	if push.NoEvent {
		return nil
	}
	line, err := deliverEvent(cmd.Context(), cfg, cfg.Tooling.Repositories[push.Service], push.Tag, digest)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), line)
	return nil
}

// newEmulatorCommand returns the hidden `sandbox emulator`, one AWS account's emulator, which
// the stack runs once per account.
func newEmulatorCommand() *cobra.Command {
	var urlFile string
	emulator := &cobra.Command{
		Use:    "emulator --url-file FILE",
		Short:  "Run one AWS emulator (one account) until interrupted; the stack starts these",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv := kumo.NewServer()
			defer srv.Close()
			if err := os.WriteFile(urlFile, []byte(srv.URL+"\n"), 0o644); err != nil {
				return err
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	emulator.Flags().StringVar(&urlFile, "url-file", "", "file to write the emulator's URL to once it listens")
	return emulator
}

// upDetached starts `sandbox up` in its own session with output to the state directory's log
// and returns once the stack is ready, or with the log's last lines if it failed.
func upDetached(ctx context.Context, dir string, args []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
		return errors.New("a sandbox is already up in " + dir + " (make sandbox-down first)")
	}
	logPath := filepath.Join(dir, DetachLog)
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	var childArgs []string
	for _, a := range args {
		if a != "--detach" && a != "--detach=true" {
			childArgs = append(childArgs, a)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, childArgs...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(5 * time.Minute)
	for {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("the stack did not come up (%v):\n%s", err, tail(string(b), 20))
		case <-deadline:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			return errors.New("the stack was not ready after 5 minutes: see " + logPath)
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
			if _, err := os.Stat(filepath.Join(dir, "state.json")); err == nil {
				b, _ := os.ReadFile(logPath)
				fmt.Print(string(b))
				return nil
			}
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
