package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func newCodec(t *testing.T, current string, keys map[string][]byte) *Codec {
	t.Helper()
	ring, err := NewKeyring(current, keys)
	require.NoError(t, err)
	c, err := New(ring)
	require.NoError(t, err)
	return c
}

type promotion struct {
	Service string
	Tag     string
}

func TestRoundTripLeavesOnlyCiphertext(t *testing.T) {
	c := newCodec(t, "k1", map[string][]byte{"k1": newKey(t)})
	dc := c.DataConverter()
	p, err := dc.ToPayload(promotion{Service: "time-service", Tag: "v1.2.3"})
	require.NoError(t, err)
	require.Equal(t, Encoding, string(p.Metadata[converter.MetadataEncoding]))
	require.Equal(t, "k1", string(p.Metadata[MetadataKeyID]))
	require.Equal(t, Cipher, string(p.Metadata[MetadataCipher]))
	for _, plain := range []string{"time-service", "v1.2.3", "json/plain"} {
		require.NotContains(t, string(p.Data), plain)
	}
	var got promotion
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, promotion{"time-service", "v1.2.3"}, got)

	again, err := dc.ToPayload(promotion{Service: "time-service", Tag: "v1.2.3"})
	require.NoError(t, err)
	require.False(t, bytes.Equal(p.Data, again.Data), "a fresh nonce every time")
}

func TestRotationKeepsOldPayloadsReadable(t *testing.T) {
	old, next := newKey(t), newKey(t)
	before := newCodec(t, "2024", map[string][]byte{"2024": old})
	sealed, err := before.Encode([]*commonpb.Payload{{Data: []byte("sealed before the rotation")}})
	require.NoError(t, err)

	// The new key is added everywhere and becomes the encrypting one; the old one stays.
	after := newCodec(t, "2025", map[string][]byte{"2024": old, "2025": next})
	fresh, err := after.Encode([]*commonpb.Payload{{Data: []byte("sealed after")}})
	require.NoError(t, err)
	require.Equal(t, "2025", string(fresh[0].Metadata[MetadataKeyID]))
	opened, err := after.Decode(append(sealed, fresh...))
	require.NoError(t, err)
	require.Equal(t, "sealed before the rotation", string(opened[0].Data))
	require.Equal(t, "sealed after", string(opened[1].Data))

	// A process that has only the old key names what it misses.
	_, err = before.Decode(fresh)
	var unknown *UnknownKeyError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, "2025", unknown.ID)
	require.Equal(t, []string{"2024"}, unknown.Have)
	require.ErrorContains(t, err, `payload encrypted with key "2025", which this process does not have (it has ["2024"]): add key "2025" to IDP_CODEC_KEYS or as IDP_CODEC_KEY_2025`)
}

func TestTamperedPayloadsDoNotOpen(t *testing.T) {
	key := newKey(t)
	c := newCodec(t, "k1", map[string][]byte{"k1": key, "k2": newKey(t)})
	seal := func() *commonpb.Payload {
		p, err := c.Encode([]*commonpb.Payload{{Data: []byte("approve v1.2.3")}})
		require.NoError(t, err)
		return p[0]
	}
	flipped := seal()
	flipped.Data[len(flipped.Data)-1] ^= 1
	relabelled := seal()
	relabelled.Metadata[MetadataKeyID] = []byte("k2")
	short := seal()
	short.Data = short.Data[:5]
	otherCipher := seal()
	otherCipher.Metadata[MetadataCipher] = []byte("ChaCha20")
	for name, tc := range map[string]struct {
		p    *commonpb.Payload
		want string
	}{
		"a flipped bit":  {flipped, `payload encrypted with key "k1" does not open with that key: it was altered`},
		"another key ID": {relabelled, `payload encrypted with key "k2" does not open with that key`},
		"cut short":      {short, "too short to hold a nonce"},
		"another cipher": {otherCipher, `cipher "ChaCha20": this idp knows only AES-256-GCM`},
	} {
		_, err := c.Decode([]*commonpb.Payload{tc.p})
		require.ErrorContains(t, err, tc.want, name)
		require.NotContains(t, err.Error(), b64(key), name)
	}
}

func TestPlaintextPayloadsPassThrough(t *testing.T) {
	c := newCodec(t, "k1", map[string][]byte{"k1": newKey(t)})
	plain, err := converter.GetDefaultDataConverter().ToPayload("written before encryption was on")
	require.NoError(t, err)
	out, err := c.Decode([]*commonpb.Payload{plain})
	require.NoError(t, err)
	require.Same(t, plain, out[0])
}

func TestFailureMessagesAreEncrypted(t *testing.T) {
	c := newCodec(t, "k1", map[string][]byte{"k1": newKey(t)})
	fc := c.FailureConverter()
	f := fc.ErrorToFailure(temporal.NewNonRetryableApplicationError("time-service is Degraded in staging", "RolledBack", nil))
	require.NotContains(t, f.String(), "time-service", "the message is in the encrypted attributes")
	require.Equal(t, "RolledBack", f.GetApplicationFailureInfo().GetType(), "the type stays readable")
	var app *temporal.ApplicationError
	require.ErrorAs(t, fc.FailureToError(f), &app)
	require.Equal(t, "time-service is Degraded in staging", app.Message())
}
