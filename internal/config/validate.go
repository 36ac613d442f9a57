package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Validate reports every problem at once, each with its field path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.Repository.URL == "" {
		bad("repository.url", "is required (the platform repository to clone)")
	}
	if c.Repository.Provider != "git" && c.Repository.Provider != "github" {
		bad("repository.provider", "must be \"git\" or \"github\", got %q", c.Repository.Provider)
	}
	if c.Repository.GitHub != "" && !slugRE.MatchString(c.Repository.GitHub) {
		bad("repository.github", "must be owner/name, got %q", c.Repository.GitHub)
	}
	if c.Repository.ReviewPollInterval.Std() < time.Second {
		bad("repository.reviewPollInterval", "must be at least 1s, got %s", c.Repository.ReviewPollInterval.Std())
	}
	if c.Repository.GitHub == "" {
		bad("repository.github", "is required: the owner/name the GitHub OIDC trust policy is scoped to")
	}
	validateAWS("tooling.aws", c.Tooling.AWS, bad)
	if len(c.Tooling.Repositories) == 0 {
		bad("tooling.repositories", "needs at least one service: ECR repository entry")
	}
	for svc, repo := range c.Tooling.Repositories {
		if repo == "" {
			bad("tooling.repositories."+svc, "is empty")
		}
	}
	c.validateNames(bad)
	if len(c.Environments) == 0 {
		bad("environments", "needs at least one environment")
	}
	c.validatePeople(bad)
	c.ImageWatch.validate(bad)
	c.Previews.validate(c, bad)
	seen := map[string]int{}
	for i := range c.Environments {
		c.validateEnv(i, seen, bad)
	}
	return errors.Join(errs...)
}

func validateAWS(p string, a AWS, bad func(string, string, ...any)) {
	switch {
	case !accountRE.MatchString(a.AccountID):
		bad(p+".accountId", "must be 12 digits, got %q: put the account's ID there (aws sts get-caller-identity --query Account)", a.AccountID)
	case a.Endpoint == "" && placeholderAccount(a.AccountID):
		bad(p+".accountId", "%q is a placeholder, not a real AWS account: put the account's ID there (aws sts get-caller-identity --query Account), or set endpoint for an emulator", a.AccountID)
	}
	if !regionRE.MatchString(a.Region) {
		bad(p+".region", "must be an AWS region like us-west-2, got %q", a.Region)
	}
	if a.AssumeRole != "" && !roleARNRE.MatchString(a.AssumeRole) {
		bad(p+".assumeRole", "must be an IAM role ARN, got %q", a.AssumeRole)
	}
	if a.Endpoint != "" && !strings.HasPrefix(a.Endpoint, "http://") && !strings.HasPrefix(a.Endpoint, "https://") {
		bad(p+".endpoint", "must be an http(s) URL, got %q", a.Endpoint)
	}
}

// validateEnv checks environments[i]; seen maps the names of the envs before it to their index.
func (c *Config) validateEnv(i int, seen map[string]int, bad func(string, string, ...any)) {
	e := c.Environments[i]
	p := envPath(i, e.Name)
	if j, dup := seen[e.Name]; dup {
		bad(p+".name", "duplicates environments[%d]: give each environment its own name", j)
	}
	seen[e.Name] = i
	validateAWS(p+".aws", e.AWS, bad)
	if !bucketRE.MatchString(e.StateBucket) {
		bad(p+".stateBucket", "must be a valid S3 bucket name, got %q", e.StateBucket)
	}
	if e.GitHubRef != "" && !strings.HasPrefix(e.GitHubRef, "refs/") {
		bad(p+".githubRef", "must be a full ref like refs/heads/main, got %q", e.GitHubRef)
	}
	if rc := e.ArgoCD.RepoCredentials; rc != nil && (rc.SecretsManager == "") == (rc.SSMParameter == "") {
		bad(p+".argocd.repoCredentials", "needs exactly one of secretsManager or ssmParameter")
	}
	prod := i == len(c.Environments)-1
	c.validateApproval(p+".bootstrap.planApproval", e.Bootstrap.PlanApproval, prod, false, bad)
	// A promotion gate waits on a pull request, which the github provider watches for reviews.
	c.validateApproval(p+".promotion.approval", e.Promotion.Approval, prod, c.Repository.Provider == "github", bad)
	if e.Promotion.EntryPattern != "" {
		if _, err := regexp.Compile(e.Promotion.EntryPattern); err != nil {
			bad(p+".promotion.entryPattern", "is not a valid regular expression: %v", err)
		}
	}
	if r := e.Promotion.RequirePassed; r != "" {
		if j, ok := seen[r]; !ok || j >= i {
			bad(p+".promotion.requirePassed", "must name an earlier environment, got %q", r)
		}
	}
	validateNotify(p, e, bad)
	e.Drift.validate(p, bad)
	if e.Promotion.Soak < 0 || e.Promotion.HealthTimeout < 0 {
		bad(p+".promotion", "soak and healthTimeout must not be negative")
	}
}

// placeholderAccount reports an account ID from documentation or a template: AWS's example
// 123456789012 and its kin, or one digit twelve times. Against real AWS (no endpoint) such an
// ID would send every call to an account that is not yours; emulators accept any ID, so the
// sandbox's 111111111111 is fine there.
func placeholderAccount(id string) bool {
	switch id {
	case "123456789012", "012345678901", "210987654321":
		return true
	}
	return strings.Count(id, id[:1]) == len(id)
}
