package workflows

import (
	"context"
	"strings"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/alexpermiakov/idp/activities/platform"
	"github.com/alexpermiakov/idp/internal/config"
)

func workflowOptions(name string) workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: name}
}

// githubLogins are the GitHub logins idp.yaml maps to people in workflow tests: everyone's is
// NAME-gh; mallory-gh, or anyone else's, is nobody's.
var githubLogins = []config.GitHubLogin{{Login: "alice-gh", Person: "alice"}, {Login: "bob-gh", Person: "bob"},
	{Login: "carol-gh", Person: "carol"}, {Login: "dave-gh", Person: "dave"}}

// mockApprovalKeys answers ApprovalKeys and RequesterKeys as the worker would with people's
// keys (a person's authorized_keys lines by name, read when the gate opens or the run starts)
// githubLogins and no groups.
func mockApprovalKeys(env *testsuite.TestWorkflowEnvironment, people func() map[string][]string) {
	env.OnActivity(pa.ApprovalKeys, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in platform.ApprovalKeysInput) (platform.ApprovalKeysOutput, error) {
			out := platform.ApprovalKeysOutput{Approvers: []string{}, People: []platform.PersonKeys{}, GitHub: githubLogins}
			for _, a := range in.Approvers {
				a = strings.ToLower(a)
				out.Approvers = append(out.Approvers, a)
				out.People = append(out.People, platform.PersonKeys{Name: a, Keys: people()[a]})
			}
			return out, nil
		}).Maybe()
	env.OnActivity(pa.RequesterKeys, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in platform.RequesterKeysInput) (platform.PersonKeys, error) {
			return platform.PersonKeys{Name: in.Name, Keys: people()[in.Name]}, nil
		}).Maybe()
}
