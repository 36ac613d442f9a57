// Package codec owns idp's encrypted payloads: a Temporal payload codec that seals every
// payload (workflow and activity inputs and results, queries, updates, signals, summaries,
// failure messages) with AES-256-GCM under a key chosen by ID, the keyring it reads from the
// environment, and the HTTP handler of `starter codec-server` through which the Web UI and
// Temporal's CLI decode them for people allowed to see them. Search attributes are not
// payloads a codec sees: they stay readable by the server.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Payload metadata of an encrypted payload. The key's ID travels with the payload, so any
// key of the ring can decrypt it after the encrypting key changed; the key itself never does.
const (
	// Encoding is the metadata "encoding" of an encrypted payload.
	Encoding = "binary/encrypted"
	// MetadataKeyID names the metadata holding the ID of the key that sealed the payload.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the metadata holding the cipher, so another can follow one day.
	MetadataCipher = "encryption-cipher"
	// Cipher is the only cipher there is today: AES-256-GCM, a 12-byte random nonce first.
	Cipher = "AES-256-GCM"
)

// Codec is a converter.PayloadCodec sealing payloads with its keyring's current key and
// opening them with whichever key their metadata names.
type Codec struct {
	ring  *Keyring
	aeads map[string]cipher.AEAD
}

// New returns the codec of ring.
func New(ring *Keyring) (*Codec, error) {
	c := &Codec{ring: ring, aeads: map[string]cipher.AEAD{}}
	for id, key := range ring.keys {
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		c.aeads[id] = aead
	}
	return c, nil
}

// Keyring is the codec's keyring.
func (c *Codec) Keyring() *Keyring { return c.ring }

// additionalData binds a sealed payload to its key ID and cipher, so relabelling one fails.
func additionalData(id string) []byte { return []byte(Cipher + "/" + id) }

// Encode seals each payload, whole (its metadata and data), with the current key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	id := c.ring.current
	aead := c.aeads[id]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypting a payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypting a payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(Encoding),
				MetadataKeyID:              []byte(id),
				MetadataCipher:             []byte(Cipher),
			},
			Data: aead.Seal(nonce, nonce, plain, additionalData(id)),
		}
	}
	return out, nil
}

// Decode opens each encrypted payload and passes others through as they are: histories
// written before encryption was turned on stay readable.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		plain, err := c.open(p)
		if err != nil {
			return nil, err
		}
		out[i] = plain
	}
	return out, nil
}

func (c *Codec) open(p *commonpb.Payload) (*commonpb.Payload, error) {
	id := string(p.Metadata[MetadataKeyID])
	if cph := string(p.Metadata[MetadataCipher]); cph != Cipher {
		return nil, fmt.Errorf("payload encrypted with cipher %q: this idp knows only %s", cph, Cipher)
	}
	aead, ok := c.aeads[id]
	if !ok {
		return nil, &UnknownKeyError{ID: id, Have: c.ring.IDs()}
	}
	if len(p.Data) < aead.NonceSize() {
		return nil, fmt.Errorf("payload encrypted with key %q is too short to hold a nonce: it was altered", id)
	}
	nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, sealed, additionalData(id))
	if err != nil {
		return nil, fmt.Errorf("payload encrypted with key %q does not open with that key: it was altered, or key %q is not the key that sealed it", id, id)
	}
	var out commonpb.Payload
	if err := proto.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("payload encrypted with key %q: decrypted bytes are not a payload: %w", id, err)
	}
	return &out, nil
}

// UnknownKeyError is a payload sealed with a key this process does not have.
type UnknownKeyError struct {
	ID   string   // the key the payload names
	Have []string // the keys this process has
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("payload encrypted with key %q, which this process does not have (it has %q): add key %q to %s or as %s%s",
		e.ID, e.Have, e.ID, EnvKeys, EnvKeyPrefix, e.ID)
}

// DataConverter is Temporal's default data converter with the codec applied to every payload.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter moves failure messages and stack traces into an encoded payload, so they
// are encrypted too; the failure's type stays readable for the server and the CLI.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          c.DataConverter(),
		EncodeCommonAttributes: true,
	})
}
