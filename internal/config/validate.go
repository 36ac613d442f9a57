package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
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
	seen := map[string]int{}
	for i, e := range c.Environments {
		p := envPath(i, e.Name)
		if j, dup := seen[e.Name]; dup {
			bad(p+".name", "duplicates environments[%d]", j)
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
		validateApproval(p+".bootstrap.planApproval", e.Bootstrap.PlanApproval, bad)
		validateApproval(p+".promotion.approval", e.Promotion.Approval, bad)
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
		if e.Promotion.Soak < 0 || e.Promotion.HealthTimeout < 0 {
			bad(p+".promotion", "soak and healthTimeout must not be negative")
		}
	}
	return errors.Join(errs...)
}

func validateAWS(p string, a AWS, bad func(string, string, ...any)) {
	if !accountRE.MatchString(a.AccountID) {
		bad(p+".accountId", "must be 12 digits, got %q", a.AccountID)
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

func validateApproval(p string, a Approval, bad func(string, string, ...any)) {
	if a.MinApprovals < 1 {
		bad(p+".minApprovals", "must be at least 1, got %d", a.MinApprovals)
	}
	if a.Expiry <= 0 {
		bad(p+".expiry", "must be positive")
	}
	if !a.Required {
		return
	}
	if len(a.Approvers) > 0 && len(a.Approvers) < a.MinApprovals {
		bad(p+".approvers", "lists %d people but minApprovals is %d: the gate could never open", len(a.Approvers), a.MinApprovals)
	}
	seen := map[string]bool{}
	for _, who := range a.Approvers {
		if strings.TrimSpace(who) == "" {
			bad(p+".approvers", "has an empty name")
		}
		if seen[who] {
			bad(p+".approvers", "lists %q twice", who)
		}
		seen[who] = true
	}
}
