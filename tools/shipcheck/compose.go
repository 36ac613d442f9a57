package shipcheck

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadCompose loads a compose file the way `docker compose [--env-file F] up` does: the given
// variables (not the test process's), the env file's variables on top, and the profiles that
// COMPOSE_PROFILES names.
func LoadCompose(ctx context.Context, file, workDir string, env []string, envFiles ...string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(workDir),
		cli.WithEnv(env),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithDefaultProfiles(),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// ComposeRule is one check of a loaded compose project.
type ComposeRule struct {
	Name  string
	Check func(p *types.Project) []string
}

// ComposeRules are the checks every compose project of this repository passes.
var ComposeRules = []ComposeRule{
	{"service_healthy waits on a health check", healthyDependencies},
	{"one-shot jobs are not restarted forever", completedJobs},
	{"ports are published on loopback only", loopbackPorts},
	{"bind mounts exist", bindSources},
	{"long-running services restart", restartPolicies},
}

// CheckCompose applies every compose rule.
func CheckCompose(p *types.Project) []string {
	var out []string
	for _, r := range ComposeRules {
		for _, problem := range r.Check(p) {
			out = append(out, r.Name+": "+problem)
		}
	}
	return out
}

// sortedServices returns the enabled services in name order.
func sortedServices(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, s := range p.Services {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// dependedOn maps a service to the conditions others wait on it with.
func dependedOn(p *types.Project) map[string][]string {
	out := map[string][]string{}
	for _, s := range sortedServices(p) {
		for dep, d := range s.DependsOn {
			out[dep] = append(out[dep], d.Condition)
		}
	}
	return out
}

func healthyDependencies(p *types.Project) []string {
	var out []string
	for _, s := range sortedServices(p) {
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				continue
			}
			target, ok := p.Services[dep]
			if !ok {
				target, ok = p.DisabledServices[dep]
			}
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s waits on %s, which is not a service", s.Name, dep))
			case target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0:
				out = append(out, fmt.Sprintf("%s waits for %s to be healthy, which has no health check: it never starts", s.Name, dep))
			}
		}
	}
	return out
}

func completedJobs(p *types.Project) []string {
	var out []string
	for name, conditions := range dependedOn(p) {
		s, ok := p.Services[name]
		if !ok {
			continue
		}
		for _, c := range conditions {
			if c == types.ServiceConditionCompletedSuccessfully && (s.Restart == types.RestartPolicyAlways || s.Restart == types.RestartPolicyUnlessStopped) {
				out = append(out, fmt.Sprintf("%s is waited on to complete but restarts %s", name, s.Restart))
			}
		}
	}
	sort.Strings(out)
	return out
}

func loopbackPorts(p *types.Project) []string {
	var out []string
	for _, s := range append(sortedServices(p), disabled(p)...) {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" && port.HostIP != "::1" {
				out = append(out, fmt.Sprintf("%s publishes %d on %q: every interface of the host", s.Name, port.Target, port.HostIP))
			}
		}
	}
	return out
}

func bindSources(p *types.Project) []string {
	var out []string
	for _, s := range append(sortedServices(p), disabled(p)...) {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				out = append(out, fmt.Sprintf("%s mounts %s, which does not exist", s.Name, v.Source))
			}
		}
	}
	return out
}

func restartPolicies(p *types.Project) []string {
	var out []string
	jobs := map[string]bool{}
	for name, conditions := range dependedOn(p) {
		for _, c := range conditions {
			if c == types.ServiceConditionCompletedSuccessfully {
				jobs[name] = true
			}
		}
	}
	for _, s := range append(sortedServices(p), disabled(p)...) {
		if !jobs[s.Name] && s.Restart != types.RestartPolicyUnlessStopped && s.Restart != types.RestartPolicyAlways {
			out = append(out, fmt.Sprintf("%s has restart %q: it stays down after a crash or a reboot", s.Name, s.Restart))
		}
	}
	return out
}

func disabled(p *types.Project) []types.ServiceConfig {
	var out []types.ServiceConfig
	for _, s := range p.DisabledServices {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
