package terraform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// knownMirrors are where images and packages put a provider filesystem mirror.
var knownMirrors = []string{"/opt/tf-plugins", "/usr/share/terraform/plugins", "/usr/local/share/terraform/plugins"}

// ProviderMirror returns the filesystem mirror to install providers from: $IDP_TF_PROVIDER_MIRROR,
// else terraform.providerMirror in idp.yaml, else the first known mirror holding
// hashicorp/aws. Empty means providers come from their registries.
func ProviderMirror(cfg config.Terraform) string {
	if m := os.Getenv("IDP_TF_PROVIDER_MIRROR"); m != "" {
		return m
	}
	if cfg.ProviderMirror != "" {
		return expandHome(cfg.ProviderMirror)
	}
	for _, m := range knownMirrors {
		if st, err := os.Stat(filepath.Join(m, "registry.terraform.io", "hashicorp", "aws")); err == nil && st.IsDir() {
			return m
		}
	}
	return ""
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// WriteCLIConfig writes idp's terraform CLI configuration into dir and returns its path.
func WriteCLIConfig(cfg config.Terraform, dir string) (string, error) {
	if err := os.MkdirAll(pluginCache(cfg), 0o755); err != nil {
		return "", fmt.Errorf("creating plugin cache: %w", err)
	}
	path := filepath.Join(dir, "terraform.rc")
	if err := os.WriteFile(path, []byte(cliConfig(cfg)), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

func pluginCache(cfg config.Terraform) string {
	if cache := expandHome(cfg.PluginCache); cache != "" {
		return cache
	}
	return filepath.Join(cfg.Dir(), "plugin-cache")
}

// cliConfig is idp's terraform CLI configuration: the plugin cache, and the provider mirror
// when there is one.
func cliConfig(cfg config.Terraform) string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin_cache_dir = %s\n", strconv.Quote(pluginCache(cfg)))
	b.WriteString("plugin_cache_may_break_dependency_lock_file = true\n")
	if m := ProviderMirror(cfg); m != "" {
		fmt.Fprintf(&b, "provider_installation {\n  filesystem_mirror {\n    path = %s\n  }\n}\n", strconv.Quote(m))
	}
	return b.String()
}

// stampFile, in a run directory, holds the initStamp of the inputs terraform init last
// succeeded with there.
const stampFile = ".idp-init"

// initStamp identifies what terraform init depends on: the commit's infra/ (by the commit),
// idp's variables, the backend and the CLI configuration. The same stamp means the working
// directory can be used again as it is: no copy of infra/, no init (about 2 s of a no-change
// bootstrap).
func initStamp(commit string, vars []byte, backend, rc string) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(commit), vars, []byte(backend), []byte(rc)} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// initialized reports whether runDir was set up and initialized for stamp, and still holds
// what init made.
func initialized(runDir, dir, stamp string) bool {
	b, err := os.ReadFile(filepath.Join(runDir, stampFile))
	if err != nil || string(b) != stamp {
		return false
	}
	st, err := os.Stat(filepath.Join(dir, ".terraform"))
	return err == nil && st.IsDir()
}

// removeLeftovers takes out what an earlier command in a reused directory wrote and the next
// must not see: plan files, and the import blocks of a recovery plan (Plan writes them again
// when its input asks).
func removeLeftovers(dir string) error {
	for _, name := range []string{planFile, "approved.tfplan", importFile, "errored.tfstate"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// workspace is one env's terraform working directory for one commit.
type workspace struct {
	tf  runner
	dir string // infra/entry inside a private copy of infra/
	env *config.Environment
}

// open prepares an initialized working directory for env at commit: a private copy of the
// checkout's infra/, idp's variables, the backend configuration and the process environment.
func (a *Activities) open(ctx context.Context, snap config.Snapshot, commit string) (*workspace, error) {
	return a.openIn(ctx, snap, commit, filepath.Join("runs", snap.Env.Name, commit))
}

// openIn is open with the working directory at rel under the work dir.
func (a *Activities) openIn(ctx context.Context, snap config.Snapshot, commit, rel string) (*workspace, error) {
	env, err := snap.Environment()
	if err != nil {
		return nil, fail.Wrap(fail.Config, err, "activity input")
	}
	runDir := filepath.Join(a.settings.Dir(), rel)
	dir := filepath.Join(runDir, "infra", "entry")
	vars := map[string]any{"environment": env.Name, "region": env.AWS.Region, "cluster_name": env.ClusterName}
	for k, v := range env.TerraformVars {
		vars[k] = v
	}
	varsJSON, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return nil, err
	}
	backend := backendConfig(env)
	rcText := cliConfig(a.settings)
	stamp := initStamp(commit, varsJSON, backend, rcText)
	reuse := initialized(runDir, dir, stamp)
	if reuse {
		if err := removeLeftovers(dir); err != nil {
			return nil, err
		}
	} else {
		src, err := a.repo.Checkout(ctx, commit)
		if err != nil {
			return nil, err
		}
		if err := os.RemoveAll(runDir); err != nil {
			return nil, err
		}
		if err := copyTree(filepath.Join(src, "infra"), filepath.Join(runDir, "infra")); err != nil {
			return nil, fail.Wrap(fail.Config, err, "the platform repository at %s has no usable infra/", commit)
		}
		if err := os.WriteFile(filepath.Join(dir, "idp.auto.tfvars.json"), varsJSON, 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "backend.tfbackend"), []byte(backend), 0o600); err != nil {
			return nil, err
		}
	}
	rc, err := WriteCLIConfig(a.settings, runDir)
	if err != nil {
		return nil, err
	}
	procEnv, err := processEnv(ctx, env, rc)
	if err != nil {
		return nil, err
	}
	tf, err := a.newRunner(dir, procEnv)
	if err != nil {
		return nil, err
	}
	if !reuse {
		if err := tf.Init(ctx, tfexec.BackendConfig("backend.tfbackend"), tfexec.Reconfigure(true)); err != nil {
			return nil, classify(err, "terraform init in %s", env.Name)
		}
		if err := os.WriteFile(filepath.Join(runDir, stampFile), []byte(stamp), 0o644); err != nil {
			return nil, err
		}
	}
	return &workspace{tf: tf, dir: dir, env: env}, nil
}

// backendConfig is the S3 backend of the env's state, with a native S3 lock file.
func backendConfig(env *config.Environment) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bucket = %s\nkey = %s\nregion = %s\nuse_lockfile = true\nencrypt = true\n",
		strconv.Quote(env.StateBucket), strconv.Quote(env.StateKey), strconv.Quote(env.AWS.Region))
	if ep := env.AWS.Endpoint; ep != "" {
		fmt.Fprintf(&b, "endpoints = { s3 = %s, sts = %s, iam = %s }\n", strconv.Quote(ep), strconv.Quote(ep), strconv.Quote(ep))
		b.WriteString("use_path_style = true\nskip_credentials_validation = true\nskip_requesting_account_id = true\nskip_metadata_api_check = true\nskip_region_validation = true\n")
	}
	return b.String()
}

// inherited are the worker's environment variables terraform gets, by exact name; the ones
// ending in '*' by prefix. Everything else stays with the worker. See processEnv.
var inherited = []string{
	"PATH", "HOME", "TMPDIR", "USER", "LOGNAME", "LANG", "LC_*", "TZ",
	// reaching the network through a proxy, and trusting a private CA
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "AWS_CA_BUNDLE",
}

// inheritedEnv is the part of environ (as os.Environ returns it) that terraform inherits.
func inheritedEnv(environ []string) map[string]string {
	out := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		for _, name := range inherited {
			if prefix, ok := strings.CutSuffix(name, "*"); (ok && strings.HasPrefix(k, prefix)) || k == name {
				out[k] = v
				break
			}
		}
	}
	return out
}

// processEnv is terraform's environment: an allow-list of the worker's (inherited: PATH,
// HOME, TMPDIR, locale, proxies, CA bundles), plus idp's CLI config and credentials for the
// env's account (the assumed role's, when one is configured).
//
// An allow-list, not the worker's environment minus some names, because infra/ is code from
// the platform repository: a data "external" source or a provider runs with terraform's
// environment at plan time, before anyone approved anything, so whatever terraform inherits
// anyone who can push to infra/ can read. The worker holds IDP_GIT_TOKEN, GITHUB_TOKEN, the
// GitHub App's key (IDP_GITHUB_APP_*), IDP_SIGNING_KEY, TEMPORAL_API_KEY and TEMPORAL_TLS_*,
// and an operator may add secrets idp has never heard of; none of them reaches terraform.
// The worker's own AWS_* and TF_* settings are not inherited either: terraform gets exactly
// the env account's credentials and region, and terraform-exec manages TF_LOG and friends.
// Credentials live only in the child process's environment, never in workflow data.
func processEnv(ctx context.Context, env *config.Environment, rc string) (map[string]string, error) {
	out := inheritedEnv(os.Environ())
	cfg, err := awsconf.Load(ctx, env.AWS)
	if err != nil {
		return nil, err
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, classify(err, "getting AWS credentials for %s", env.Name)
	}
	out["AWS_ACCESS_KEY_ID"] = creds.AccessKeyID
	out["AWS_SECRET_ACCESS_KEY"] = creds.SecretAccessKey
	if creds.SessionToken != "" {
		out["AWS_SESSION_TOKEN"] = creds.SessionToken
	}
	out["AWS_REGION"] = env.AWS.Region
	if env.AWS.Endpoint != "" {
		out["AWS_ENDPOINT_URL"] = env.AWS.Endpoint
	}
	out["TF_CLI_CONFIG_FILE"] = rc
	out["CHECKPOINT_DISABLE"] = "1"
	return out, nil
}

// copyTree copies the regular files of src into dst, skipping terraform's own state.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
