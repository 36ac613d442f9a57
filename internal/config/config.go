// Package config owns idp.yaml: its schema, loading and validation.
//
// One file describes the whole platform: the Git repository that is its source of truth, the
// tooling account that holds the images, and every environment with its AWS account, cluster,
// Argo CD and policies. The sandbox is just another idp.yaml with endpoints pointing at local
// emulators.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the parsed idp.yaml.
type Config struct {
	// Repository is the platform repository (infra/, argocd/, helm-charts/).
	Repository Repository `yaml:"repository" json:"repository"`
	// Tooling is the account that holds the ECR repositories.
	Tooling Tooling `yaml:"tooling" json:"tooling"`
	// Terraform configures how idp runs terraform.
	Terraform Terraform `yaml:"terraform" json:"terraform"`
	// Environments in promotion order (dev before staging before prod); the last one is
	// production.
	Environments []Environment `yaml:"environments" json:"environments"`
	// People who may approve, by name, with the SSH public keys their decisions are signed with.
	People map[string]Person `yaml:"people" json:"people,omitempty"`
	// Groups name sets of people; an approver list names a group as "@name".
	Groups map[string][]string `yaml:"groups" json:"groups,omitempty"`
	// ImageWatch starts promotions of pushed images by itself (events and polling).
	ImageWatch ImageWatch `yaml:"imageWatch" json:"imageWatch"`
	// Previews makes preview environments from pull request events.
	Previews Previews `yaml:"previews" json:"previews"`
}

// Repository is the Git repository holding the platform.
type Repository struct {
	// URL is what workers clone and push to (https://, ssh, file:// or a local path).
	URL string `yaml:"url" json:"url"`
	// Branch is the branch that is the source of truth.
	Branch string `yaml:"branch" json:"branch"`
	// Provider is "github" (API commits and pull requests) or "git" (plain pushes).
	Provider string `yaml:"provider" json:"provider"`
	// GitHub is the owner/name slug the GitHub OIDC trust policy names (repo:<slug>:...).
	GitHub string `yaml:"github" json:"github"`
	// ReviewPollInterval is how often the github provider reads a waiting pull request's
	// reviews (default 30s); each look is one API request per 100 reviews.
	ReviewPollInterval Duration `yaml:"reviewPollInterval" json:"reviewPollInterval,omitempty"`
}

// Tooling is the account holding container images.
type Tooling struct {
	AWS AWS `yaml:"aws" json:"aws"`
	// Repositories maps a service name to its ECR repository name.
	Repositories map[string]string `yaml:"repositories" json:"repositories"`
	// GrantPull lets each environment account pull from these repositories (bootstrap step 7).
	// Defaults to true. The sandbox switches it off: its emulator lacks SetRepositoryPolicy.
	GrantPull *bool `yaml:"grantPull" json:"grantPull,omitempty"`
}

// For is the tooling with only service's repository: what a run about one service carries in
// its workflow data. With every repository, each run of a platform with 500 services would
// carry (and a worker hold, for each run it has cached) 500 entries it never reads.
func (t Tooling) For(service string) Tooling {
	repo, ok := t.Repositories[service]
	t.Repositories = map[string]string{}
	if ok {
		t.Repositories[service] = repo
	}
	return t
}

// GrantPullEnabled reports whether bootstrap grants cross-account ECR pull.
func (t Tooling) GrantPullEnabled() bool { return t.GrantPull == nil || *t.GrantPull }

// AWS says how to reach one AWS account.
type AWS struct {
	// AccountID is the 12-digit account ID.
	AccountID string `yaml:"accountId" json:"accountId"`
	// Region is the account's home region.
	Region string `yaml:"region" json:"region"`
	// AssumeRole is an optional role ARN assumed before every call into this account.
	AssumeRole string `yaml:"assumeRole" json:"assumeRole,omitempty"`
	// Endpoint overrides the AWS API endpoint (an emulator in the sandbox and in tests).
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
}

// Terraform configures terraform runs.
type Terraform struct {
	// Binary is the terraform executable; default "terraform" from PATH.
	Binary string `yaml:"binary" json:"binary,omitempty"`
	// ProviderMirror is a filesystem mirror of providers; when set, providers come only from it.
	// $IDP_TF_PROVIDER_MIRROR overrides it.
	ProviderMirror string `yaml:"providerMirror" json:"providerMirror,omitempty"`
	// PluginCache is the shared provider plugin cache directory.
	PluginCache string `yaml:"pluginCache" json:"pluginCache,omitempty"`
	// WorkDir is where checkouts and terraform working directories live.
	WorkDir string `yaml:"workDir" json:"workDir,omitempty"`
}

// Environment is one AWS account with its EKS cluster and Argo CD.
type Environment struct {
	Name string `yaml:"name" json:"name"`
	AWS  AWS    `yaml:"aws" json:"aws"`
	// StateBucket and StateKey locate the Terraform state of infra/entry.
	StateBucket string `yaml:"stateBucket" json:"stateBucket"`
	StateKey    string `yaml:"stateKey" json:"stateKey"`
	// ClusterName is the EKS cluster's name.
	ClusterName string `yaml:"clusterName" json:"clusterName"`
	// GitHubRole is the role GitHub Actions assume through OIDC.
	GitHubRole string `yaml:"githubRole" json:"githubRole"`
	// GitHubRef restricts the role's trust to one ref (prod: refs/heads/main); empty trusts
	// every ref of the repository.
	GitHubRef string `yaml:"githubRef" json:"githubRef,omitempty"`
	// GitHubRolePolicies are the managed policy ARNs attached to the role. Omitted means
	// AdministratorAccess, which terraform in CI needs; the sandbox lists none because its
	// emulator has no AWS-managed policies.
	GitHubRolePolicies []string `yaml:"githubRolePolicies" json:"githubRolePolicies"`
	// TerraformVars are extra variables for infra/entry (the sandbox's switches).
	TerraformVars map[string]any `yaml:"terraformVars" json:"terraformVars,omitempty"`
	ArgoCD        ArgoCD         `yaml:"argocd" json:"argocd"`
	Bootstrap     Bootstrap      `yaml:"bootstrap" json:"bootstrap"`
	Promotion     Promotion      `yaml:"promotion" json:"promotion"`
	// Notify are the webhooks told about this env's runs (see notify.go).
	Notify []NotifyTarget `yaml:"notify" json:"notify,omitempty"`
	// Preview is set only on an env derived for one pull request (preview.go); idp.yaml
	// cannot set it.
	Preview *Preview `yaml:"-" json:"preview,omitempty"`
	// Drift is how often the env is checked for drift (see drift.go).
	Drift Drift `yaml:"drift" json:"drift"`
}

// ArgoCD describes the env's Argo CD.
type ArgoCD struct {
	Namespace string `yaml:"namespace" json:"namespace"`
	// AppOfApps is the env's root Application (default <env>-apps), defined in
	// argocd/bootstrap-<env>.yaml.
	AppOfApps string `yaml:"appOfApps" json:"appOfApps"`
	// Kubeconfig reaches the cluster directly (sandbox); empty means EKS with an IAM token.
	Kubeconfig string `yaml:"kubeconfig" json:"kubeconfig,omitempty"`
	// Version is the Argo CD release installed (default v2.14.21).
	Version string `yaml:"version" json:"version"`
	// InstallManifest is where the official install manifest comes from: an https URL or a
	// file path (default: the upstream release's manifests/install.yaml for Version).
	InstallManifest string `yaml:"installManifest" json:"installManifest,omitempty"`
	// Timeout bounds the wait until Argo CD and every Application are Synced and Healthy.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// RepoCredentials names where the repository's HTTPS token is kept; the worker reads it
	// and writes Argo CD's repository Secret itself, so it never enters workflow data.
	RepoCredentials *RepoCredentials `yaml:"repoCredentials" json:"repoCredentials,omitempty"`
}

// RepoCredentials reference a Git token in the env's account: exactly one of the two.
type RepoCredentials struct {
	// SecretsManager is a secret name or ARN in AWS Secrets Manager.
	SecretsManager string `yaml:"secretsManager" json:"secretsManager,omitempty"`
	// SSMParameter is a SecureString parameter name in AWS Systems Manager.
	SSMParameter string `yaml:"ssmParameter" json:"ssmParameter,omitempty"`
}

// Bootstrap is the env's bootstrap policy.
type Bootstrap struct {
	// PlanApproval gates terraform apply on people approving the plan.
	PlanApproval Approval `yaml:"planApproval" json:"planApproval"`
}

// Promotion is the env's release promotion policy.
type Promotion struct {
	// EntryPattern is the tag pattern that enters the pipeline at this env (empty: not an entry).
	EntryPattern string `yaml:"entryPattern" json:"entryPattern,omitempty"`
	// RequirePassed names an earlier env where the same digest must have run Healthy.
	RequirePassed string   `yaml:"requirePassed" json:"requirePassed,omitempty"`
	Approval      Approval `yaml:"approval" json:"approval"`
	Soak          Duration `yaml:"soak" json:"soak"`
	HealthTimeout Duration `yaml:"healthTimeout" json:"healthTimeout"`
	Freeze        bool     `yaml:"freeze" json:"freeze"`
}

// Approval is an approval policy.
type Approval struct {
	Required bool `yaml:"required" json:"required"`
	// Approvers is the allow-list of people (names under people:) and groups ("@name" of a
	// group under groups:); empty means anyone, which the production env may not allow.
	Approvers    []string `yaml:"approvers" json:"approvers,omitempty"`
	MinApprovals int      `yaml:"minApprovals" json:"minApprovals"`
	// FourEyes refuses an approval from the person who started the run.
	FourEyes bool     `yaml:"fourEyes" json:"fourEyes"`
	Expiry   Duration `yaml:"expiry" json:"expiry"`
	// RequireSignatures accepts only decisions signed with a key of the named person (see
	// people:), verified by the gate; unsigned ones are refused.
	RequireSignatures bool `yaml:"requireSignatures" json:"requireSignatures,omitempty"`
	// RemindAfter, when set, sends one reminder notification this long after the gate opened
	// if it is still waiting; it must be shorter than Expiry.
	RemindAfter Duration `yaml:"remindAfter" json:"remindAfter,omitempty"`
}

// DefaultArgoCDVersion is the Argo CD release idp installs unless idp.yaml says otherwise.
const DefaultArgoCDVersion = "v2.14.21"

// Duration is a time.Duration written as "90s" or "24h" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q (use e.g. 90s, 10m, 24h)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Env returns the environment with that name.
func (c *Config) Env(name string) (*Environment, error) {
	for i := range c.Environments {
		if c.Environments[i].Name == name {
			return &c.Environments[i], nil
		}
	}
	return nil, fmt.Errorf("unknown environment %q (idp.yaml defines: %s)", name, strings.Join(c.EnvNames(), ", "))
}

// EnvNames lists the environments in promotion order.
func (c *Config) EnvNames() []string {
	names := make([]string, 0, len(c.Environments))
	for _, e := range c.Environments {
		names = append(names, e.Name)
	}
	return names
}

// Path resolves the config path: the flag, else $IDP_CONFIG, else ./idp.yaml.
func Path(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv("IDP_CONFIG"); p != "" {
		return p
	}
	return "idp.yaml"
}

// Load reads, defaults and validates a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w (pass --config or set IDP_CONFIG)", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Terraform.WorkDir != "" && !filepath.IsAbs(c.Terraform.WorkDir) {
		c.Terraform.WorkDir = filepath.Join(filepath.Dir(path), c.Terraform.WorkDir)
	}
	return c, nil
}

// Parse decodes, defaults and validates config bytes. Unknown fields are errors.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, decodeError(err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.Repository.Branch == "" {
		c.Repository.Branch = "main"
	}
	if c.Repository.Provider == "" {
		c.Repository.Provider = "git"
	}
	c.ImageWatch.applyDefaults()
	if c.Repository.ReviewPollInterval == 0 {
		c.Repository.ReviewPollInterval = Duration(30 * time.Second)
	}
	for i := range c.Environments {
		e := &c.Environments[i]
		if e.AWS.Region == "" {
			e.AWS.Region = c.Tooling.AWS.Region
		}
		if e.StateKey == "" {
			e.StateKey = "entry/terraform.tfstate"
		}
		if e.GitHubRole == "" {
			e.GitHubRole = "GitHubActionsRole"
		}
		if e.GitHubRolePolicies == nil {
			e.GitHubRolePolicies = []string{"arn:aws:iam::aws:policy/AdministratorAccess"}
		}
		if e.ClusterName == "" {
			e.ClusterName = "idp-" + e.Name
		}
		if e.ArgoCD.Namespace == "" {
			e.ArgoCD.Namespace = "argocd"
		}
		if e.ArgoCD.AppOfApps == "" {
			e.ArgoCD.AppOfApps = e.Name + "-apps"
		}
		if e.ArgoCD.Version == "" {
			e.ArgoCD.Version = DefaultArgoCDVersion
		}
		if e.ArgoCD.InstallManifest == "" {
			e.ArgoCD.InstallManifest = "https://raw.githubusercontent.com/argoproj/argo-cd/" + e.ArgoCD.Version + "/manifests/install.yaml"
		}
		if e.ArgoCD.Timeout == 0 {
			e.ArgoCD.Timeout = Duration(10 * time.Minute)
		}
		for _, a := range []*Approval{&e.Bootstrap.PlanApproval, &e.Promotion.Approval} {
			if a.MinApprovals == 0 {
				a.MinApprovals = 1
			}
			if a.Expiry == 0 {
				a.Expiry = Duration(24 * time.Hour)
			}
		}
		if e.Promotion.HealthTimeout == 0 {
			e.Promotion.HealthTimeout = Duration(10 * time.Minute)
		}
		e.Drift.applyDefaults()
	}
}

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	bucketRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/.+$`)
	slugRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
)

// Dir is where idp keeps checkouts and terraform working directories: WorkDir, else the
// user's cache directory.
func (t Terraform) Dir() string {
	if t.WorkDir != "" {
		return expandHome(t.WorkDir)
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "idp")
	}
	return filepath.Join(os.TempDir(), "idp")
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// Snapshot is what a run takes of idp.yaml once, when it starts, and hands to every activity
// that works in an env: the env and the platform-wide settings those activities need. Workers
// that run the activities later (after a restart, a retry, or on another host) work from it,
// not from whatever their own idp.yaml says by then.
type Snapshot struct {
	Env        Environment `json:"env"`
	Repository Repository  `json:"repository"`
	Tooling    Tooling     `json:"tooling"`
}

// Snapshot takes the named env's snapshot.
func (c *Config) Snapshot(env string) (Snapshot, error) {
	e, err := c.Env(env)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Env: *e, Repository: c.Repository, Tooling: c.Tooling}, nil
}

// Environment returns the snapshot's env, or an error when the snapshot is empty: an activity
// input written by a run that started before runs carried snapshots.
func (s *Snapshot) Environment() (*Environment, error) {
	if s.Env.Name == "" {
		return nil, errors.New("the activity input carries no environment snapshot (the run started under an older idp): start the run again")
	}
	return &s.Env, nil
}
