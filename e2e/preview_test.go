package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/cli"
	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/workflows/api"
)

// previewLivesAndExpires bootstraps pull request 5's preview of dev with a real 1 min time to
// live: it is listed with its TTL left, its own state object and EKS cluster exist; at the
// TTL its run starts destroy-dev-pr-5, which takes them away and leaves dev as it was (the
// sandbox runs the preview in dev's cluster, where it installs no app-of-apps of its own).
func previewLivesAndExpires(t *testing.T, cfg *config.Config) {
	t.Helper()
	ctx := context.Background()
	code, out := starter(t, "bootstrap", "--env", "dev", "--pr", "5", "--ttl", "1m", "--branch", "main", "--wait", "--as", "alice")
	require.Equal(t, 0, code, out)
	up := time.Now()
	id := api.PreviewID("dev", 5)

	code, out = starter(t, "list", "--previews", "-o", "json")
	require.Equal(t, 0, code, out)
	var runs []cli.RunSummary
	require.NoError(t, json.Unmarshal([]byte(out), &runs), out)
	require.Len(t, runs, 1, out)
	require.Equal(t, id, runs[0].WorkflowID)
	require.Equal(t, "dev-pr-5", runs[0].Preview)
	require.NotEmpty(t, runs[0].TTLLeft)

	dev, err := cfg.Env("dev")
	require.NoError(t, err)
	awsCfg, err := awsconf.Load(ctx, dev.AWS)
	require.NoError(t, err)
	stateKey := "previews/dev-pr-5/" + dev.StateKey
	s3c := awsconf.S3(awsCfg)
	_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &dev.StateBucket, Key: &stateKey})
	require.NoError(t, err, "the preview's own state object")
	ek := eks.NewFromConfig(awsCfg)
	_, err = ek.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("k8s-pr-5")})
	require.NoError(t, err, "the preview's own cluster")

	// The TTL runs out: the preview's run starts its destroy and ends.
	st := awaitStatus(t, id, 3*time.Minute, func(st api.Status) bool { return st.Preview != nil && st.Preview.Destroy != "" })
	require.GreaterOrEqual(t, time.Since(up), 55*time.Second, "not before its TTL")
	require.Contains(t, strings.Join(st.Steps, "\n"), "the cluster is dev's too (a preview in its base's cluster, as in the sandbox): no app-of-apps of its own")
	require.Contains(t, strings.Join(st.Steps, "\n"), "preview dev-pr-5 ends: its time to live ran out")
	code, out = starter(t, "watch", api.DestroyID("dev", 5))
	require.Equal(t, 0, code, out)
	destroyed := status(t, api.DestroyID("dev", 5))
	require.Equal(t, api.StageDone, destroyed.Stage, strings.Join(destroyed.Steps, "\n"))
	steps := strings.Join(destroyed.Steps, "\n")
	require.Contains(t, steps, "the cluster is dev's too")
	require.Contains(t, steps, "already gone: dev-pr-5-apps", "it never had one in dev's cluster")
	require.Contains(t, steps, "terraform destroy: ")

	_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &dev.StateBucket, Key: &stateKey})
	require.Error(t, err, "the preview's state object is gone")
	_, err = ek.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("k8s-pr-5")})
	require.Error(t, err, "the preview's cluster is gone")
	_, err = ek.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String(dev.ClusterName)})
	require.NoError(t, err, "dev's cluster stays")
	_, err = s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &dev.StateBucket, Key: &dev.StateKey})
	require.NoError(t, err, "dev's state stays")
	require.NotNil(t, getApp(t, cfg, "dev", dev.ArgoCD.AppOfApps), "dev's app-of-apps stays")
	code, out = starter(t, "list", "--previews", "-o", "json")
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "dev-pr-5", "no live preview is listed")
}
