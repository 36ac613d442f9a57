package cli

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/workflows/api"
)

func TestTrainMembers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        promoteOptions
		want     []api.TrainMember
		problems []string
	}{
		{name: "two services", o: promoteOptions{train: "rel-1", services: []string{"version-service=v2.0.0", "time-service=v1.2.3"}},
			want: []api.TrainMember{{Service: "version-service", Tag: "v2.0.0"}, {Service: "time-service", Tag: "v1.2.3"}}},
		{name: "no tag", o: promoteOptions{train: "rel-1", services: []string{"time-service", "version-service=v2.0.0"}},
			problems: []string{`--service "time-service": with --train, give SVC=TAG`}},
		{name: "empty parts", o: promoteOptions{train: "rel-1", services: []string{"=v1.2.3", "version-service="}},
			problems: []string{`--service "=v1.2.3": with --train, give SVC=TAG`, `--service "version-service=": with --train, give SVC=TAG`}},
		{name: "bad tag", o: promoteOptions{train: "rel-1", services: []string{"time-service=v1/x", "version-service=v2.0.0"}},
			problems: []string{`"v1/x" is not a valid image tag`}},
		{name: "duplicate", o: promoteOptions{train: "rel-1", services: []string{"time-service=v1.2.3", "time-service=v1.2.4"}},
			problems: []string{"--service time-service is given twice (time-service=v1.2.3 and time-service=v1.2.4)"}},
		{name: "one service", o: promoteOptions{train: "rel-1", services: []string{"time-service=v1.2.3"}},
			problems: []string{"give --service SVC=TAG at least twice"}},
		{name: "every problem at once", o: promoteOptions{train: "rel/1", tag: "v1", supersede: true, services: []string{"time-service=v1.2.3", "time-service=v1.2.3"}},
			problems: []string{`--train "rel/1" is not a valid name`, "--tag does not go with --train", "--supersede does not go with --train", "given twice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.o.members()
			if tc.problems == nil {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			for _, p := range tc.problems {
				require.ErrorContains(t, err, p)
			}
		})
	}
}

func TestPromoteSingleRefusesTrainForms(t *testing.T) {
	err := promoteOptions{service: "time-service=v1.2.3", tag: "v1.2.3"}.validate()
	require.ErrorContains(t, err, "looks like SVC=TAG, which only --train takes")
	err = promoteOptions{service: "time-service", services: []string{"time-service", "version-service"}, tag: "v1.2.3"}.validate()
	require.ErrorContains(t, err, "use --train NAME --service SVC=TAG")
}

// TestTrainBadInputExitsTwo: bad trains are refused before Temporal is dialled (none runs
// here), with exit code 2 and a message naming the problem.
func TestTrainBadInputExitsTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--train", "rel-1", "--service", "time-service=v1.2.3", "--service", "billing=v1.0.0"}, `--service billing=v1.0.0: unknown service "billing"`},
		{[]string{"--train", "rel-1", "--service", "time-service=v1.2.3", "--service", "version-service=sha-1a2b3c4"}, "the services would go through different envs"},
		{[]string{"--train", "rel-1", "--service", "time-service=v1.2.3", "--service", "time-service=v1.2.4"}, "given twice"},
		{[]string{"--train", "rel-1", "--service", "time-service:v1.2.3", "--service", "version-service=v1.2.3"}, "give SVC=TAG"},
		{[]string{"--train", "", "--service", "time-service=v1.2.3", "--service", "version-service=v1.2.3"}, `--train "" is not a valid name`},
		{[]string{"--service", "time-service", "--service", "version-service", "--tag", "v1.2.3"}, "use --train NAME"},
	} {
		var out, errOut bytes.Buffer
		root := NewRoot(&out, &errOut)
		root.SetArgs(append([]string{"promote", "--config", "../../idp.yaml", "--no-sign", "--as", "alice"}, tc.args...))
		err := root.ExecuteContext(context.Background())
		require.Error(t, err, "%v", tc.args)
		require.True(t, errors.As(err, new(*ExitError)), "%v: %v is not typed as bad input", tc.args, err)
		require.Equal(t, ExitBadInput, Code(err), "%v: %v", tc.args, err)
		require.ErrorContains(t, err, tc.msg, "%v", tc.args)
	}
}

func TestPrintStatusShowsTheTrain(t *testing.T) {
	var b bytes.Buffer
	printStatus(&b, api.Status{WorkflowID: "train-rel-1", Kind: api.KindTrain, Stage: api.StageWaitingApproval,
		Train: &api.TrainStatus{Name: "rel-1", Subject: "sha256:abc", Members: []api.TrainImage{
			{Service: "time-service", Tag: "v1.2.3", Digest: "sha256:111", Environments: []api.EnvStatus{{Name: "prod", State: api.EnvWaitingApproval}}},
			{Service: "version-service", Tag: "v2.0.0", Digest: "sha256:222"}}}})
	require.Contains(t, b.String(), "train:        rel-1, approvals bind to sha256:abc")
	require.Contains(t, b.String(), "  time-service v1.2.3 sha256:111\n    prod       waiting-approval")
	require.Contains(t, b.String(), "  version-service v2.0.0 sha256:222\n")
}
