//go:build faults

package faults

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/awsconf"
	"github.com/alexpermiakov/idp/internal/config"
)

// account reads one env's emulator directly (not through any proxy a test puts in front).
type account struct {
	t   *testing.T
	env *config.Environment
	cfg aws.Config
}

// account returns a reader of env's AWS account as the stack's emulator serves it.
func (r *rig) account(env string) *account {
	r.t.Helper()
	e, err := r.Cfg.Env(env)
	require.NoError(r.t, err)
	acct := e.AWS
	acct.Endpoint = r.S.Endpoints[env]
	cfg, err := awsconf.Load(context.Background(), acct)
	require.NoError(r.t, err)
	return &account{t: r.t, env: e, cfg: cfg}
}

func ctx10() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// VPCs counts the VPCs tagged for the env's cluster (the emulator's default VPC, if any, has
// no such tag).
func (a *account) VPCs() int {
	a.t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	out, err := ec2.NewFromConfig(a.cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	require.NoError(a.t, err)
	n := 0
	for _, v := range out.Vpcs {
		for _, tag := range v.Tags {
			if aws.ToString(tag.Key) == "Cluster" && aws.ToString(tag.Value) == a.env.ClusterName {
				n++
			}
		}
	}
	return n
}

// Clusters lists the EKS clusters.
func (a *account) Clusters() []string {
	a.t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	out, err := eks.NewFromConfig(a.cfg).ListClusters(ctx, &eks.ListClustersInput{})
	require.NoError(a.t, err)
	return out.Clusters
}

// Roles lists the IAM roles' names.
func (a *account) Roles() []string {
	a.t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	var names []string
	p := iam.NewListRolesPaginator(iam.NewFromConfig(a.cfg), &iam.ListRolesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(a.t, err)
		for _, r := range out.Roles {
			names = append(names, aws.ToString(r.RoleName))
		}
	}
	return names
}

// object returns the state bucket's object under key, or nil when there is none.
func (a *account) object(key string) []byte {
	a.t.Helper()
	ctx, cancel := ctx10()
	defer cancel()
	out, err := awsconf.S3(a.cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: &a.env.StateBucket, Key: &key})
	if err != nil {
		var nf interface{ ErrorCode() string }
		if errors.As(err, &nf) && (nf.ErrorCode() == "NoSuchKey" || nf.ErrorCode() == "NoSuchBucket" || nf.ErrorCode() == "NotFound") {
			return nil
		}
		a.t.Logf("reading s3://%s/%s: %v", a.env.StateBucket, key, err)
		return nil
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	require.NoError(a.t, err)
	return b
}

// tfState is the part of a terraform state file the tests read.
type tfState struct {
	Serial    int `json:"serial"`
	Resources []struct {
		Module    string            `json:"module"`
		Mode      string            `json:"mode"`
		Type      string            `json:"type"`
		Name      string            `json:"name"`
		Instances []json.RawMessage `json:"instances"`
	} `json:"resources"`
}

// State is the env's terraform state as the backend holds it, or nil before the first write.
func (a *account) State() *tfState {
	b := a.object(a.env.StateKey)
	if b == nil {
		return nil
	}
	var st tfState
	require.NoError(a.t, json.Unmarshal(b, &st))
	return &st
}

// Has reports whether the state holds a managed resource of type typ.
func (s *tfState) Has(typ string) bool {
	if s == nil {
		return false
	}
	for _, r := range s.Resources {
		if r.Mode == "managed" && r.Type == typ {
			return true
		}
	}
	return false
}

// Count is the number of managed instances of type typ the state holds.
func (s *tfState) Count(typ string) int {
	n := 0
	if s == nil {
		return 0
	}
	for _, r := range s.Resources {
		if r.Mode == "managed" && r.Type == typ {
			n += len(r.Instances)
		}
	}
	return n
}

// Lock is the state's lock file (the S3 backend's use_lockfile), or nil when nobody holds it.
func (a *account) Lock() []byte { return a.object(a.env.StateKey + ".tflock") }
