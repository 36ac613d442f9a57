package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	devImage  = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-0000000"
	prodImage = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v0.1.0"
	stgImage  = "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/version:v0.1.0"
	digest    = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func manifestFixture(t testing.TB, name string) []byte {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return doc
}

// crlf gives a fixture Windows line endings; done here, not in the files, so that Git's
// line-ending conversion cannot change what is tested.
func crlf(doc []byte) []byte { return bytes.ReplaceAll(doc, []byte("\n"), []byte("\r\n")) }

// requireOnlyTokenChanged checks, without the code under test, that out is doc with the
// first oldTok on exactly one line replaced by newTok.
func requireOnlyTokenChanged(t *testing.T, doc, out []byte, oldTok, newTok string) {
	t.Helper()
	dl, ol := strings.Split(string(doc), "\n"), strings.Split(string(out), "\n")
	require.Len(t, ol, len(dl), "line count changed")
	var changed []int
	for i := range dl {
		if dl[i] != ol[i] {
			changed = append(changed, i)
		}
	}
	require.Len(t, changed, 1, "lines changed: %v", changed)
	line := dl[changed[0]]
	require.Contains(t, line, oldTok)
	require.Equal(t, strings.Replace(line, oldTok, newTok, 1), ol[changed[0]])
}

func TestSetImage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		file   string
		edit   func([]byte) []byte // applied to the fixture first
		old    string
		image  string
		oldTok string // the old value as written; old when empty
		newTok string // the new value as it must be written; image when empty
		// noRoundTrip: setting the old image back does not give the original bytes, because
		// the edit had to quote a plain value.
		noRoundTrip bool
	}{
		{name: "seed dev", file: "app-dev-time-service.yaml", old: devImage,
			image: "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-1a2b3c4"},
		{name: "seed staging", file: "app-staging-version-service.yaml", old: stgImage,
			image: "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/version:v0.2.0"},
		{name: "seed prod to digest", file: "app-prod-time-service.yaml", old: prodImage,
			image: "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime" + digest},
		{name: "seed prod CRLF", file: "app-prod-time-service.yaml", edit: crlf, old: prodImage,
			image: "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v1.2.3"},
		{name: "source |- with comments", file: "app-source-strip.yaml",
			old: "registry.example.com/idp/localtime:v1.2.3", image: "registry.example.com/idp/localtime:v1.2.4"},
		{name: "source |- CRLF", file: "app-source-strip.yaml", edit: crlf,
			old: "registry.example.com/idp/localtime:v1.2.3", image: "registry.example.com/idp/localtime:v1.2.4"},
		{name: "source |- plain needs quotes", file: "app-source-strip.yaml",
			old: "registry.example.com/idp/localtime:v1.2.3", image: "1.5", newTok: `"1.5"`, noRoundTrip: true},
		{name: "sources[1] valuesObject single-quoted", file: "app-sources-values-object.yaml",
			old: "registry.example.com/idp/version:v0.1.0", image: "registry.example.com/idp/version:v0.2.0",
			oldTok: `'registry.example.com/idp/version:v0.1.0'`, newTok: `'registry.example.com/idp/version:v0.2.0'`},
		{name: "single-quoted escapes a quote", file: "app-sources-values-object.yaml",
			old: "registry.example.com/idp/version:v0.1.0", image: "it's:v1",
			oldTok: `'registry.example.com/idp/version:v0.1.0'`, newTok: `'it''s:v1'`},
		{name: "source valuesObject double-quoted in flow", file: "app-source-values-object.yaml",
			old: "registry.example.com/idp/version:v0.1.0", image: "registry.example.com/idp/version:v0.2.0"},
		{name: "double-quoted escapes", file: "app-source-values-object.yaml",
			old: "registry.example.com/idp/version:v0.1.0", image: `we"ird\x`,
			oldTok: `"registry.example.com/idp/version:v0.1.0"`, newTok: `"we\"ird\\x"`},
		{name: "values file", file: "values-file.yaml",
			old:   "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-abcdef0",
			image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-1234567"},
		{name: "values file CRLF", file: "values-file.yaml", edit: crlf,
			old:   "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-abcdef0",
			image: "localtime:sha-1234567"},
		{name: "values file plain bool-like gets quoted", file: "values-file.yaml",
			old:   "123456789012.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:sha-abcdef0",
			image: "yes", newTok: `"yes"`, noRoundTrip: true},
		{name: "values file flow mapping", file: "values-file-flow.yaml",
			old: "localtime:sha-abcdef0", image: "localtime:sha-7654321"},
		{name: "values file flow mapping needs quotes", file: "values-file-flow.yaml",
			old: "localtime:sha-abcdef0", image: "a,b}", newTok: `"a,b}"`, noRoundTrip: true},
		{name: "tag and anchor kept", file: "values-file-tagged.yaml",
			old: "localtime" + digest, image: "localtime:v2"},
		{name: "non-ASCII before the image", file: "values-file-nonascii.yaml",
			old: "localtime:v1", image: "localtime:v22"},
		{name: "|+ block, odd indentation, quoted inner image", file: "app-values-keep.yaml",
			old: "localtime:v1", image: "localtime:v2", oldTok: `"localtime:v1"`, newTok: `"localtime:v2"`},
		{name: "|2 indentation indicator", file: "app-values-indent-indicator.yaml",
			old: "localtime:v1", image: "localtime:v2"},
		{name: "tabs", file: "app-values-tabs.yaml", old: "localtime:v1", image: "localtime:v2.0.0"},
		{name: "tabs CRLF", file: "app-values-tabs.yaml", edit: crlf, old: "localtime:v1", image: "localtime:v2.0.0"},
		{name: "values as a double-quoted string", file: "app-values-double-quoted.yaml",
			old: "localtime:v1", image: "localtime:v2"},
		{name: "values as a double-quoted string, escaped twice", file: "app-values-double-quoted.yaml",
			old: "localtime:v1", image: `we"ird`, newTok: `\"we\\\"ird\"`, noRoundTrip: true},
		{name: "values as a single-quoted flow string", file: "app-values-single-quoted.yaml",
			old: "localtime:v1", image: "localtime:v2", oldTok: `''localtime:v1''`, newTok: `''localtime:v2''`},
		{name: "values as a single-quoted flow string with a quote", file: "app-values-single-quoted.yaml",
			old: "localtime:v1", image: "it's", oldTok: `''localtime:v1''`, newTok: `''it''''s''`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := manifestFixture(t, tc.file)
			if tc.edit != nil {
				doc = tc.edit(doc)
			}
			oldTok, newTok := tc.oldTok, tc.newTok
			if oldTok == "" {
				oldTok = tc.old
			}
			if newTok == "" {
				newTok = tc.image
			}

			got, err := Image(doc)
			require.NoError(t, err)
			require.Equal(t, tc.old, got)

			same, err := SetImage(doc, tc.old)
			require.NoError(t, err)
			require.Equal(t, doc, same, "setting the current image must not change a byte")

			out, err := SetImage(doc, tc.image)
			require.NoError(t, err)
			got, err = Image(out)
			require.NoError(t, err)
			require.Equal(t, tc.image, got)
			requireOnlyTokenChanged(t, doc, out, oldTok, newTok)

			back, err := SetImage(out, tc.old)
			require.NoError(t, err)
			got, err = Image(back)
			require.NoError(t, err)
			require.Equal(t, tc.old, got)
			if !tc.noRoundTrip {
				require.Equal(t, string(doc), string(back), "round trip")
			}
		})
	}
}

func TestSetImageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		file     string
		doc      string // used when file is empty
		image    string // localtime:v9 when empty
		imageErr string // what Image says; Image succeeds when empty
		setErr   string // what SetImage says; imageErr when empty
	}{
		{name: "no image", file: "err-none.yaml",
			imageErr: "no app.image found (looked in spec.source(s)[].helm.values, helm.valuesObject, and top-level app.image)"},
		{name: "no image in a plain mapping", doc: "replicas: 1\n",
			imageErr: "no app.image found (looked in spec.source(s)[].helm.values, helm.valuesObject, and top-level app.image)"},
		{name: "not a mapping", doc: "- app\n- image\n",
			imageErr: "no app.image found (looked in spec.source(s)[].helm.values, helm.valuesObject, and top-level app.image)"},
		{name: "two sources", file: "err-two-sources.yaml",
			imageErr: "app.image found in more than one place: spec.sources[0].helm.values, spec.sources[1].helm.values"},
		{name: "values and valuesObject", file: "err-values-and-object.yaml",
			imageErr: "app.image found in more than one place: spec.source.helm.values, spec.source.helm.valuesObject.app.image"},
		{name: "top level and Application", doc: "app: {image: a}\nspec: {source: {helm: {valuesObject: {app: {image: b}}}}}\n",
			imageErr: "app.image found in more than one place: app.image, spec.source.helm.valuesObject.app.image"},
		{name: "multi-document", file: "err-multi-doc.yaml", imageErr: "manifest holds more than one YAML document"},
		{name: "trailing empty document", doc: "app: {image: a}\n---\n", imageErr: "more than one YAML document"},
		{name: "invalid YAML", file: "err-invalid.yaml", imageErr: "parsing manifest: yaml: line 3"},
		{name: "invalid values string", file: "err-values-invalid.yaml", imageErr: "parsing spec.source.helm.values: yaml:"},
		{name: "multi-document values string", doc: "spec: {source: {helm: {values: \"a: 1\\n---\\nb: 2\\n\"}}}\n",
			imageErr: "spec.source.helm.values holds more than one YAML document"},
		{name: "empty", file: "err-empty.yaml", imageErr: "manifest holds no YAML document"},
		{name: "empty bytes", doc: "", imageErr: "manifest holds no YAML document"},
		{name: "not a string", file: "err-not-string.yaml", imageErr: `app.image is !!int "12345", not a string`},
		{name: "null", file: "err-null.yaml", imageErr: `app.image is !!null "", not a string`},
		{name: "not a string in valuesObject", doc: "spec: {source: {helm: {valuesObject: {app: {image: 1}}}}}\n",
			imageErr: `spec.source.helm.valuesObject.app.image is !!int "1", not a string`},
		{name: "not a string in values", doc: "spec: {source: {helm: {values: \"app: {image: true}\"}}}\n",
			imageErr: `app.image in spec.source.helm.values is !!bool "true", not a string`},
		{name: "mapping", doc: "app:\n  image:\n    repo: x\n", imageErr: "app.image is not a string"},
		{name: "alias", file: "err-alias.yaml", imageErr: "app.image is a YAML alias"},
		{name: "duplicate key", file: "err-duplicate.yaml", imageErr: "app.image is defined more than once"},
		{name: "parameters override values", file: "err-parameters.yaml",
			imageErr: "spec.source.helm.parameters[0] sets app.image, which overrides helm values"},
		{name: "folded values block", file: "err-folded.yaml",
			setErr: "editing app.image in spec.source.helm.values: helm.values written as a folded (>) block cannot be edited in place"},
		{name: "multi-line plain image", file: "err-multiline-image.yaml",
			setErr: "editing app.image: app.image must be written on one line"},
		{name: "empty tagged plain image", doc: "app:\n  image: !!str\n", setErr: "app.image is an empty plain value"},
		{name: "block scalar image", doc: "app:\n  image: |\n    localtime:v1\n",
			setErr: "app.image must be a one-line string, not a block scalar"},
		{name: "multi-line quoted image", doc: "app:\n  image: \"localtime\n    :v1\"\n",
			setErr: "a quoted value must be written on one line"},
		{name: "empty image", file: "values-file.yaml", image: "-", setErr: "image must not be empty"},
		{name: "image with a space", file: "values-file.yaml", image: "a b", setErr: "contains a space or non-printable character"},
		{name: "image with a newline", file: "values-file.yaml", image: "a\nb", setErr: "contains a space or non-printable character"},
		{name: "image with a control character", file: "values-file.yaml", image: "a\x00", setErr: "contains a space or non-printable character"},
		{name: "image not UTF-8", file: "values-file.yaml", image: "a\xff", setErr: "is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := []byte(tc.doc)
			if tc.file != "" {
				doc = manifestFixture(t, tc.file)
			}
			image := tc.image
			switch image {
			case "":
				image = "localtime:v9"
			case "-":
				image = ""
			}
			_, err := Image(doc)
			if tc.imageErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.imageErr)
			}
			setErr := tc.setErr
			if setErr == "" {
				setErr = tc.imageErr
			}
			out, err := SetImage(doc, image)
			require.ErrorContains(t, err, setErr)
			require.NotErrorIs(t, err, errMismatch)
			require.Nil(t, out)
		})
	}
}

// TestSetImageLiveManifests keeps the repository's own Applications editable, whatever
// images they pin today.
func TestSetImageLiveManifests(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "argocd", "applications", "*", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		doc, err := os.ReadFile(file)
		require.NoError(t, err)
		old, err := Image(doc)
		require.NoError(t, err, file)
		image := old + "-next"
		out, err := SetImage(doc, image)
		require.NoError(t, err, file)
		requireOnlyTokenChanged(t, doc, out, old, image)
		back, err := SetImage(out, old)
		require.NoError(t, err, file)
		require.Equal(t, string(doc), string(back), file)
	}
}

// manifestOddDocs are valid manifests written in unusual but legal ways; SetImage must edit
// each of them in place.
var manifestOddDocs = []string{
	"\ufeffapp: {image: a}\n",
	"app:\u2028  image: a\u2028x: 1\n",
	"app:\u0085  image: a\u0085x: 1\n",
	"app:\r  image: a\r",
	"spec:\n  source:\n    helm:\n      values: !!str |\n        app:\n          image: a\n",
	"spec:\n  source:\n    helm:\n      values: &v |2-\n          app:\n            image: a\n",
	"spec:\n  source:\n    helm:\n      values: |\n        ---\n        app:\n          image: a\n        ...\n",
	"spec:\n  source:\n    helm:\n      values: |\n\n\n        app:\n          image: a\n",
	"spec:\n  source:\n    helm:\n      values: |\n        app:\n          image: a\r\n",
	"spec:\n  source:\n    helm:\n      values: |\n        app: {image: a}\u2028        x: 1\n",
	"spec:\n  source:\n    helm:\n      values: \"app: {image: \\x61bc}\"\n",
	"spec:\n  source:\n    helm:\n      values: \"app:\\n  image: \\\"x\\\"\"\n",
	"spec:\n  source:\n    helm:\n      values: \"app:\\n  image: \\u00e9t\u00e9\"\n",
	"--- # doc\napp:\n  image: a\n...\n",
	"app:\n  image: # c\n    foo:v1\n",
	"app:\n  image: !!str\n    foo:v1\n",
	"app:\n  ? image\n  : a\n",
	"{app: {image: a}}",
	"app: {\"image\": 'a',}",
	"app:\n  image: a\t#c",
	"app:\n  image: ''\n",
	"app:\n  image: \"\" # set by idp\n",
}

func TestSetImageOddDocs(t *testing.T) {
	t.Parallel()
	for _, doc := range manifestOddDocs {
		for _, image := range []string{"localtime:v2", "true", `a"b'c`} {
			out, err := SetImage([]byte(doc), image)
			require.NoError(t, err, "%q", doc)
			require.NotEqual(t, doc, string(out))
			manifestCheckSetImage(t, []byte(doc), image)
		}
	}
}

var manifestReasonableImage = regexp.MustCompile(`^[a-z0-9./:@_-]{1,80}$`)

// manifestFuzzImage maps any string to a "reasonable" image reference: bytes outside
// [a-z0-9./:@_-] are replaced by one inside, and the result is cut to 80 bytes.
func manifestFuzzImage(s string) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789./:@_-"
	b := []byte(s)
	if len(b) > 80 {
		b = b[:80]
	}
	if len(b) == 0 {
		return "x"
	}
	for i, c := range b {
		if strings.IndexByte(alphabet, c) < 0 {
			b[i] = alphabet[int(c)%len(alphabet)]
		}
	}
	return string(b)
}

func FuzzSetImage(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "manifest", "*.yaml"))
	require.NoError(f, err)
	images := []string{"localtime:v2", "registry.example.com/idp/version" + digest, "1.5", "it's", `a"b\c`, "x", "yes"}
	for i, file := range files {
		doc := manifestFixture(f, filepath.Base(file))
		f.Add(doc, images[i%len(images)])
		f.Add(crlf(doc), images[(i+1)%len(images)])
	}
	for i, doc := range manifestOddDocs {
		f.Add([]byte(doc), images[i%len(images)])
	}
	f.Fuzz(func(t *testing.T, doc []byte, image string) {
		manifestCheckSetImage(t, doc, image)
		manifestCheckSetImage(t, doc, manifestFuzzImage(image))
	})
}

// manifestCheckSetImage checks the properties every successful SetImage must have.
func manifestCheckSetImage(t *testing.T, doc []byte, image string) {
	old, oldErr := Image(doc)
	out, err := SetImage(doc, image)
	if err != nil {
		// Refusing a manifest is fine; losing track of the image's text is a bug.
		require.NotErrorIs(t, err, errMismatch)
		return
	}
	require.NoError(t, oldErr, "SetImage succeeded where Image failed")
	got, err := Image(out)
	require.NoError(t, err)
	require.Equal(t, image, got)
	if old == image {
		require.Equal(t, doc, out)
		return
	}

	// Only the image's line changes, for any image; a reasonable image needs no escaping, so
	// it appears as written on that line.
	dl, ol := bytes.Split(doc, []byte("\n")), bytes.Split(out, []byte("\n"))
	require.Len(t, ol, len(dl))
	var changed []int
	for i := range dl {
		if !bytes.Equal(dl[i], ol[i]) {
			changed = append(changed, i)
		}
	}
	require.Len(t, changed, 1)
	if manifestReasonableImage.MatchString(image) {
		require.Contains(t, string(ol[changed[0]]), image)
	}

	if checkImage(old) != nil {
		return // the old value could not be written back by SetImage
	}
	back, err := SetImage(out, old)
	require.NoError(t, err)
	got, err = Image(back)
	require.NoError(t, err)
	require.Equal(t, old, got)
	// The round trip gives doc back byte for byte unless the old value was not written the
	// way SetImage writes it in the style the edit left (escapes like \x41, or a plain value
	// the edit had to quote).
	_, site, err := findImage(doc)
	require.NoError(t, err)
	start, end, _, err := planSplice(doc, site, old)
	require.NoError(t, err)
	_, site2, err := findImage(out)
	require.NoError(t, err)
	_, _, tok, err := planSplice(out, site2, old)
	require.NoError(t, err)
	if string(doc[start:end]) == tok {
		require.Equal(t, string(doc), string(back), "round trip")
	}
}

// BenchmarkSetImage measures one promotion's manifest edit on the seed's layout (inline Helm
// values): it runs inside every commit attempt, including non-fast-forward retries.
func BenchmarkSetImage(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "argocd", "applications", "prod", "time-service.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := SetImage(doc, "864992049050.dkr.ecr.us-west-2.amazonaws.com/idp/localtime:v9.9.9"); err != nil {
			b.Fatal(err)
		}
	}
}
