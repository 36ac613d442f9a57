package stack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// startEmulators runs one AWS emulator process per account. They must be processes: the
// emulator keeps each service's state in one store per process, so emulators sharing a process
// would share buckets, roles and VPCs across accounts.
func (s *Stack) startEmulators(ctx context.Context) error {
	urlDir := filepath.Join(s.opts.Dir, "emulators")
	if err := os.MkdirAll(urlDir, 0o755); err != nil {
		return err
	}
	started := map[string]*proc{}
	for _, acct := range Accounts {
		p, err := startProc("aws-"+acct, filepath.Join(s.opts.Dir, "logs", "aws-"+acct+".log"), os.Environ(),
			filepath.Join(s.opts.BinDir, "sandbox"), "emulator", "--url-file", filepath.Join(urlDir, acct+".url"))
		if err != nil {
			return err
		}
		s.addProc(p)
		started[acct] = p
	}
	for _, acct := range Accounts {
		urlFile := filepath.Join(urlDir, acct+".url")
		if err := waitFor(ctx, "AWS emulator for "+acct, started[acct], 30*time.Second, func(ctx context.Context) error {
			b, err := os.ReadFile(urlFile)
			if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
				return errors.New("no URL yet")
			}
			s.Endpoints[acct] = strings.TrimSpace(string(b))
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// endpointList lists the emulators as account=URL, in account order.
func (s *Stack) endpointList() []string {
	var out []string
	for _, a := range Accounts {
		out = append(out, a+"="+s.Endpoints[a])
	}
	return out
}
