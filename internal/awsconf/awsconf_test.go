package awsconf

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/alexpermiakov/idp/internal/config"
)

// An account's configuration is loaded once and shared (one HTTP client, so one CA bundle
// parsed and its connections reused; one credentials cache), each caller getting its own
// copy to change; another account, or the same one at another endpoint, gets its own.
func TestLoadSharesAnAccountsConfiguration(t *testing.T) {
	ctx := context.Background()
	dev := config.AWS{AccountID: "111111111111", Region: "us-west-2", Endpoint: "http://127.0.0.1:1"}
	a, err := Load(ctx, dev)
	require.NoError(t, err)
	b, err := Load(ctx, dev)
	require.NoError(t, err)
	require.Same(t, a.HTTPClient, b.HTTPClient)
	require.Same(t, a.Credentials, b.Credentials)
	b.Region = "eu-west-1"
	c, err := Load(ctx, dev)
	require.NoError(t, err)
	require.Equal(t, "us-west-2", c.Region, "a caller's change stays in its copy")

	moved := dev
	moved.Endpoint = "http://127.0.0.1:2"
	d, err := Load(ctx, moved)
	require.NoError(t, err)
	require.NotSame(t, a.HTTPClient, d.HTTPClient)
	require.Equal(t, "http://127.0.0.1:2", *d.BaseEndpoint)
	creds, err := d.Credentials.Retrieve(ctx)
	require.NoError(t, err)
	require.Equal(t, "idp-emulator", creds.AccessKeyID, "an emulator gets the dummy credentials")
}
