package codec

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The environment that turns encryption on. The same variables serve the worker, starter and
// starter codec-server, so one setting configures them all.
const (
	// EnvKeys names a keyring: a file of "ID base64key" lines, or a directory holding one file
	// per key, named by its ID (a mounted Kubernetes Secret).
	EnvKeys = "IDP_CODEC_KEYS"
	// EnvKeyPrefix prefixes one key given inline: IDP_CODEC_KEY_<ID>=base64key.
	EnvKeyPrefix = "IDP_CODEC_KEY_"
	// EnvKeyID names the key that encrypts; every key decrypts.
	EnvKeyID = "IDP_CODEC_KEY_ID"
)

// KeySize is AES-256's key length in bytes.
const KeySize = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// howToMakeAKey ends every error about a key's value.
const howToMakeAKey = "make one with: head -c 32 /dev/urandom | base64"

// Env is where settings come from: the process environment (OSEnv) or a test's map.
type Env interface {
	LookupEnv(key string) (string, bool)
	Environ() []string
}

type osEnv struct{}

func (osEnv) LookupEnv(k string) (string, bool) { return os.LookupEnv(k) }
func (osEnv) Environ() []string                 { return os.Environ() }

// OSEnv is the process environment.
var OSEnv Env = osEnv{}

// Keyring holds the AES-256 keys by ID and the ID of the one that encrypts. It never prints
// its keys: String shows the IDs only.
type Keyring struct {
	keys    map[string][]byte
	current string
}

// NewKeyring returns a keyring of keys (ID → 32-byte key) encrypting with current.
func NewKeyring(current string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}, current: current}
	var errs []error
	for id, key := range keys {
		if !keyIDPattern.MatchString(id) {
			errs = append(errs, fmt.Errorf("key ID %q: use 1 to 64 of A-Z a-z 0-9 _ . -", id))
		}
		if len(key) != KeySize {
			errs = append(errs, fmt.Errorf("key %q is %d bytes, AES-256 needs %d", id, len(key), KeySize))
		}
		k.keys[id] = append([]byte(nil), key...)
	}
	if _, ok := keys[current]; !ok {
		errs = append(errs, fmt.Errorf("the encrypting key %q is not among the keys (%s)", current, k.ids()))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return k, nil
}

// Current is the ID of the key that encrypts.
func (k *Keyring) Current() string { return k.current }

// IDs lists every key's ID, sorted; each of them decrypts.
func (k Keyring) IDs() []string {
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (k Keyring) ids() string {
	if len(k.keys) == 0 {
		return "none"
	}
	return `"` + strings.Join(k.IDs(), `", "`) + `"`
}

// String names the keys, never their values.
func (k Keyring) String() string {
	return fmt.Sprintf("AES-256-GCM, encrypting with key %q, decrypting with %s", k.current, k.ids())
}

// GoString keeps %#v from printing the keys.
func (k Keyring) GoString() string { return k.String() }

// Load reads the keyring the environment configures: the keys of $IDP_CODEC_KEYS and of
// every $IDP_CODEC_KEY_<ID>, encrypting with $IDP_CODEC_KEY_ID (which may be left out when
// there is one key). It returns nil, nil when none of these is set: encryption is off. Errors
// name the variable or file to fix and never show a key.
func Load(env Env) (*Keyring, error) {
	keys := map[string][]byte{}
	from := map[string]string{} // key ID → where it was read
	var errs []error
	add := func(id, where, value string) {
		key, err := parseKey(id, where, value)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if prev, ok := keys[id]; ok && string(prev) != string(key) {
			errs = append(errs, fmt.Errorf("key %q is in %s and in %s with different values: keep one", id, from[id], where))
			return
		}
		keys[id], from[id] = key, where
	}
	if path, ok := env.LookupEnv(EnvKeys); ok && path != "" {
		errs = append(errs, readKeyring(path, add))
		if len(errs) == 1 && errs[0] == nil && len(keys) == 0 {
			errs = append(errs, fmt.Errorf("%s: %s holds no key: add lines \"ID base64key\" (a directory: one file per key, named by its ID)", EnvKeys, path))
		}
	}
	for _, kv := range env.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if id, ok := strings.CutPrefix(name, EnvKeyPrefix); ok && name != EnvKeyID {
			add(id, name, value)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	current, _ := env.LookupEnv(EnvKeyID)
	return pick(keys, current)
}

// pick builds the keyring once the keys are read: the encrypting key is named, or the only one.
func pick(keys map[string][]byte, current string) (*Keyring, error) {
	switch {
	case len(keys) == 0 && current == "":
		return nil, nil
	case len(keys) == 0:
		return nil, fmt.Errorf("%s is %q but no key is configured: set %s to a keyring or %s%s to a key", EnvKeyID, current, EnvKeys, EnvKeyPrefix, current)
	case current == "" && len(keys) > 1:
		k := &Keyring{keys: keys}
		return nil, fmt.Errorf("%d keys are configured (%s): set %s to the one that encrypts", len(keys), k.ids(), EnvKeyID)
	case current == "":
		for id := range keys {
			current = id
		}
	}
	if _, ok := keys[current]; !ok {
		k := &Keyring{keys: keys}
		return nil, fmt.Errorf("%s is %q, but the keys configured are %s: add that key or name one of these", EnvKeyID, current, k.ids())
	}
	return NewKeyring(current, keys)
}

func parseKey(id, where, value string) ([]byte, error) {
	if !keyIDPattern.MatchString(id) {
		return nil, fmt.Errorf("%s: key ID %q: use 1 to 64 of A-Z a-z 0-9 _ . -", where, id)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return nil, fmt.Errorf("%s: key %q is not base64 (%s)", where, id, howToMakeAKey)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%s: key %q is %d bytes after base64 decoding; AES-256 needs %d (%s)", where, id, len(key), KeySize, howToMakeAKey)
	}
	return key, nil
}

// readKeyring reads a keyring file or directory, passing each key to add.
func readKeyring(path string, add func(id, where, value string)) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvKeys, err)
	}
	if info.IsDir() {
		return readKeyDir(path, add)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvKeys, err)
	}
	return forEachPair(path, b, "ID base64key", func(_ int, where, id, value string) { add(id, where, value) })
}

// forEachPair calls fn with each "FIRST SECOND" line of a file (blank lines and # comments
// skipped), its line number and where it is; a line of another shape is an error naming the wanted form.
func forEachPair(path string, b []byte, form string, fn func(line int, where, first, second string)) error {
	var errs []error
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		where := fmt.Sprintf("%s line %d", path, i+1)
		fields := strings.Fields(line)
		if len(fields) != 2 {
			errs = append(errs, fmt.Errorf("%s: want %q, found %d fields", where, form, len(fields)))
			continue
		}
		fn(i+1, where, fields[0], fields[1])
	}
	return errors.Join(errs...)
}

// readKeyDir reads one key per file, named by its ID. Hidden entries are skipped: a mounted
// Kubernetes Secret keeps its real files under ..data and links each key to them.
func readKeyDir(dir string, add func(id, where, value string)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", EnvKeys, err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if info, err := os.Stat(path); err != nil || info.IsDir() {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvKeys, err))
			continue
		}
		add(e.Name(), path, string(b))
	}
	return errors.Join(errs...)
}
