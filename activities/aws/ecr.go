package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/fail"
)

// ecrPolicyAPI is the part of ECR the pull grant needs.
type ecrPolicyAPI interface {
	GetRepositoryPolicy(context.Context, *ecr.GetRepositoryPolicyInput, ...func(*ecr.Options)) (*ecr.GetRepositoryPolicyOutput, error)
	SetRepositoryPolicy(context.Context, *ecr.SetRepositoryPolicyInput, ...func(*ecr.Options)) (*ecr.SetRepositoryPolicyOutput, error)
}

// pullActions are what a cluster needs to pull an image.
var pullActions = []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}

// GrantInput names the environment that should be able to pull.
type GrantInput struct {
	Snapshot config.Snapshot `json:"snapshot"`
}

// GrantOutput lists the repositories whose policy had to change.
type GrantOutput struct {
	Repositories []string `json:"repositories"`
	Changed      []string `json:"changed,omitempty"`
}

// GrantECRPull lets the env's account pull from every tooling repository, by one statement
// per env (Sid IdpPull<Env>) in each repository policy. Other statements are kept as they are.
func (a *Activities) GrantECRPull(ctx context.Context, in GrantInput) (GrantOutput, error) {
	env, err := in.Snapshot.Environment()
	if err != nil {
		return GrantOutput{}, fail.Wrap(fail.Config, err, "activity input")
	}
	tooling := in.Snapshot.Tooling
	c, err := a.sdk().ecrClient(ctx, tooling.AWS)
	if err != nil {
		return GrantOutput{}, err
	}
	repos := make([]string, 0, len(tooling.Repositories))
	for _, r := range tooling.Repositories {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	return grantPull(ctx, c, tooling.AWS.AccountID, repos, env.Name, env.AWS.AccountID)
}

func grantPull(ctx context.Context, c ecrPolicyAPI, registry string, repos []string, envName, account string) (GrantOutput, error) {
	out := GrantOutput{Repositories: repos}
	want := map[string]any{
		"Sid":       "IdpPull" + sidPart(envName),
		"Effect":    "Allow",
		"Principal": map[string]any{"AWS": "arn:aws:iam::" + account + ":root"},
		"Action":    toAny(pullActions),
	}
	for _, repo := range repos {
		changed, err := grantRepo(ctx, c, registry, repo, want)
		if err != nil {
			return out, err
		}
		if changed {
			out.Changed = append(out.Changed, repo)
		}
	}
	return out, nil
}

// grantRepo puts want into repo's policy in place of any statement with its Sid, and reports
// whether the policy had to change.
func grantRepo(ctx context.Context, c ecrPolicyAPI, registry, repo string, want map[string]any) (bool, error) {
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{}}
	got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RegistryId: &registry, RepositoryName: aws.String(repo)})
	switch {
	case err == nil:
		if err := json.Unmarshal([]byte(aws.ToString(got.PolicyText)), &doc); err != nil {
			return false, fmt.Errorf("decoding policy of %s: %w", repo, err)
		}
	case isErr[*ecrtypes.RepositoryPolicyNotFoundException](err):
	case isErr[*ecrtypes.RepositoryNotFoundException](err):
		return false, fail.Wrap(fail.NotFound, err, "ECR repository %s (tooling.repositories in idp.yaml) does not exist in the tooling account", repo)
	default:
		return false, classify(err, "reading policy of %s", repo)
	}
	stmts, _ := doc["Statement"].([]any)
	kept, found := make([]any, 0, len(stmts)+1), false
	for _, s := range stmts {
		if m, ok := s.(map[string]any); ok && m["Sid"] == want["Sid"] {
			found = reflect.DeepEqual(normalizeStatement(m), normalizeStatement(want))
			continue
		}
		kept = append(kept, s)
	}
	if found {
		return false, nil
	}
	doc["Statement"] = append(kept, want)
	text, err := json.Marshal(doc)
	if err != nil {
		return false, fmt.Errorf("encoding policy of %s: %w", repo, err)
	}
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RegistryId: &registry,
		RepositoryName: aws.String(repo), PolicyText: aws.String(string(text))}); err != nil {
		return false, classify(err, "setting policy of %s", repo)
	}
	return true, nil
}

// normalizeStatement makes a statement comparable after a JSON round trip: a single action
// may come back as a string, actions in any order.
func normalizeStatement(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var n map[string]any
	_ = json.Unmarshal(b, &n)
	switch act := n["Action"].(type) {
	case string:
		n["Action"] = []any{act}
	case []any:
		sort.Slice(act, func(i, j int) bool { return fmt.Sprint(act[i]) < fmt.Sprint(act[j]) })
	}
	return n
}

func sidPart(env string) string {
	var b strings.Builder
	up := true
	for _, r := range env {
		switch {
		case r >= 'a' && r <= 'z' && up:
			b.WriteRune(r - 'a' + 'A')
			up = false
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	return b.String()
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
