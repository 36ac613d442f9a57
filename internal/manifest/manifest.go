// Package manifest edits one value, app.image, in the manifests idp promotes: an Argo CD
// Application with Helm values, or a Helm values file. It is pure: bytes in, bytes out.
package manifest

// This file edits the image of a service in a manifest without re-marshalling it: reviewers
// of a promotion commit or PR must see a one-line diff, and comments, key order and quoting
// written by people must survive. yaml.v3 finds the image scalar and its position; the new
// token is spliced into the original bytes; the result is parsed again and compared with the
// original so that an edit that would change anything but app.image is refused, not written.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// noImage is returned when no location holds app.image.
const noImage = "no app.image found (looked in spec.source(s)[].helm.values, helm.valuesObject, and top-level app.image)"

// errMismatch means the text of a manifest and what yaml.v3 parsed from it did not
// line up, or an edit would have changed more than the image. SetImage refuses the edit; the
// cause is a gap in this file (the fuzz test looks for them) rather than in the manifest.
var errMismatch = errors.New("cannot edit the manifest in place")

// mismatch returns an error wrapping errMismatch.
func mismatch(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMismatch}, args...)...)
}

// location is the one place of a manifest that holds app.image.
type location struct {
	path  string     // for messages, e.g. "spec.sources[0].helm.values"
	image *yaml.Node // the app.image scalar; a node of inner when values is set
	// values is the helm.values string holding the image, inner that string parsed; both are
	// nil when the image is a node of the manifest itself (valuesObject, values file).
	values *yaml.Node
	inner  *yaml.Node
}

// name says where the image is, for messages.
func (s location) name() string {
	if s.values != nil {
		return "app.image in " + s.path
	}
	return s.path
}

// Image returns the current app.image of a manifest: an Argo CD Application with the image in
// spec.source(s)[].helm.values (a YAML string) or helm.valuesObject, or a Helm values file
// with a top-level app.image. Exactly one of those places must hold it.
func Image(doc []byte) (string, error) {
	_, site, err := findImage(doc)
	if err != nil {
		return "", err
	}
	return site.image.Value, nil
}

// SetImage returns doc with app.image set to image and every other byte unchanged: comments,
// key order, indentation, line endings and the quoting of other values stay as they are. The
// new value keeps the quoting style of the old one; a plain value is double-quoted only when
// image cannot be written plain. When app.image already is image, doc comes back unchanged.
// SetImage finds app.image where Image does, and refuses (with an error) rather than guesses
// when the edit cannot be made as one in-place token replacement, e.g. a multi-line image or
// helm.values written as a folded (>) block.
func SetImage(doc []byte, image string) ([]byte, error) {
	if err := checkImage(image); err != nil {
		return nil, err
	}
	root, site, err := findImage(doc)
	if err != nil {
		return nil, err
	}
	if site.image.Value == image {
		return bytes.Clone(doc), nil
	}
	start, end, tok, err := planSplice(doc, site, image)
	if err != nil {
		return nil, fmt.Errorf("editing %s: %w", site.name(), err)
	}
	out := make([]byte, 0, len(doc)-(end-start)+len(tok))
	out = append(out, doc[:start]...)
	out = append(out, tok...)
	out = append(out, doc[end:]...)
	if err := verify(root, site, out, image); err != nil {
		return nil, fmt.Errorf("editing %s: %w", site.name(), err)
	}
	return out, nil
}

// checkImage refuses values that could not be an image reference and would need
// multi-line or escaped YAML to write.
func checkImage(image string) error {
	if image == "" {
		return errors.New("image must not be empty")
	}
	if !utf8.ValidString(image) {
		return fmt.Errorf("image %q is not valid UTF-8", image)
	}
	for _, r := range image {
		if r == ' ' || !unicode.IsPrint(r) {
			return fmt.Errorf("image %q contains a space or non-printable character", image)
		}
	}
	return nil
}

// findImage parses doc and returns its root and the one place holding app.image.
func findImage(doc []byte) (*yaml.Node, location, error) {
	root, err := parse(doc, "manifest")
	if err != nil {
		return nil, location{}, err
	}
	if root == nil {
		return nil, location{}, errors.New("manifest holds no YAML document")
	}
	sites, err := findLocations(root.Content[0])
	if err != nil {
		return nil, location{}, err
	}
	switch len(sites) {
	case 0:
		return nil, location{}, errors.New(noImage)
	case 1:
	default:
		paths := make([]string, len(sites))
		for i, s := range sites {
			paths[i] = s.path
		}
		return nil, location{}, fmt.Errorf("app.image found in more than one place: %s", strings.Join(paths, ", "))
	}
	site := sites[0]
	if site.image.Kind != yaml.ScalarNode {
		return nil, location{}, fmt.Errorf("%s is not a string", site.name())
	}
	if tag := site.image.ShortTag(); tag != "!!str" {
		return nil, location{}, fmt.Errorf("%s is %s %q, not a string", site.name(), tag, site.image.Value)
	}
	return root, site, nil
}

// parse parses data, which must hold at most one YAML document, and returns its
// document node, or nil when data holds no document at all.
func parse(data []byte, what string) (root *yaml.Node, err error) {
	// The input comes from a repository anyone with write access can change; a parser panic
	// on odd input must become an error, not take the worker down.
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("parsing %s: %v", what, r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := dec.Decode(&first); errors.Is(err, io.EOF) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", what, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		return nil, fmt.Errorf("%s holds more than one YAML document (---); idp edits files with exactly one", what)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parsing %s: %w", what, err)
	}
	if first.Kind != yaml.DocumentNode || len(first.Content) != 1 {
		return nil, nil
	}
	return &first, nil
}

// findLocations returns every place of the document's top node that holds app.image.
func findLocations(top *yaml.Node) ([]location, error) {
	var sites []location
	img, err := appImage(top, "")
	if err != nil {
		return nil, err
	}
	if img != nil {
		sites = append(sites, location{path: "app.image", image: img})
	}
	spec, err := mapGet(top, "spec", "spec")
	if err != nil {
		return nil, err
	}
	source, err := mapGet(spec, "source", "spec.source")
	if err != nil {
		return nil, err
	}
	if sites, err = helmLocations(sites, source, "spec.source"); err != nil {
		return nil, err
	}
	sources, err := mapGet(spec, "sources", "spec.sources")
	if err != nil {
		return nil, err
	}
	if sources != nil && sources.Kind == yaml.SequenceNode {
		for i, src := range sources.Content {
			path := fmt.Sprintf("spec.sources[%d]", i)
			if src.Kind == yaml.AliasNode {
				return nil, fmt.Errorf("%s is a YAML alias, which idp does not follow", path)
			}
			if sites, err = helmLocations(sites, src, path); err != nil {
				return nil, err
			}
		}
	}
	return sites, nil
}

// helmLocations appends to sites the places of source's helm section holding app.image.
func helmLocations(sites []location, source *yaml.Node, path string) ([]location, error) {
	path += ".helm"
	helm, err := mapGet(source, "helm", path)
	if err != nil || helm == nil {
		return sites, err
	}
	// Argo CD gives helm.parameters precedence over values: editing values would not change
	// what is deployed.
	params, err := mapGet(helm, "parameters", path+".parameters")
	if err != nil {
		return nil, err
	}
	if params != nil && params.Kind == yaml.SequenceNode {
		for i, p := range params.Content {
			name, err := mapGet(p, "name", fmt.Sprintf("%s.parameters[%d].name", path, i))
			if err != nil {
				return nil, err
			}
			if name != nil && name.Kind == yaml.ScalarNode && name.Value == "app.image" {
				return nil, fmt.Errorf("%s.parameters[%d] sets app.image, which overrides helm values; idp does not edit parameters", path, i)
			}
		}
	}

	values, err := mapGet(helm, "values", path+".values")
	if err != nil {
		return nil, err
	}
	if values != nil && values.Kind == yaml.ScalarNode && values.ShortTag() == "!!str" {
		inner, err := parse([]byte(values.Value), path+".values")
		if err != nil {
			return nil, err
		}
		if inner != nil {
			img, err := appImage(inner.Content[0], path+".values: ")
			if err != nil {
				return nil, err
			}
			if img != nil {
				sites = append(sites, location{path: path + ".values", image: img, values: values, inner: inner})
			}
		}
	}

	obj, err := mapGet(helm, "valuesObject", path+".valuesObject")
	if err != nil {
		return nil, err
	}
	img, err := appImage(obj, path+".valuesObject.")
	if err != nil {
		return nil, err
	}
	if img != nil {
		sites = append(sites, location{path: path + ".valuesObject.app.image", image: img})
	}
	return sites, nil
}

// appImage returns the value of app.image in the mapping m, or nil.
func appImage(m *yaml.Node, prefix string) (*yaml.Node, error) {
	app, err := mapGet(m, "app", prefix+"app")
	if err != nil {
		return nil, err
	}
	return mapGet(app, "image", prefix+"app.image")
}

// mapGet returns the value of key in m, or nil when m is not a mapping or lacks key.
func mapGet(m *yaml.Node, key, path string) (*yaml.Node, error) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	var found *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k := m.Content[i]
		if k.Kind != yaml.ScalarNode || k.Value != key {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%s is defined more than once", path)
		}
		found = m.Content[i+1]
	}
	if found != nil && found.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("%s is a YAML alias, which idp does not follow", path)
	}
	return found, nil
}

// planSplice returns the byte range of doc that holds the app.image token and what to put
// there instead to make the image image.
func planSplice(doc []byte, site location, image string) (start, end int, tok string, err error) {
	if site.values == nil {
		start, end, style, err := tokenAt(doc, site.image)
		if err != nil {
			return 0, 0, "", err
		}
		return start, end, encode(image, style), nil
	}
	inner := []byte(site.values.Value)
	a, b, style, err := tokenAt(inner, site.image)
	if err != nil {
		return 0, 0, "", fmt.Errorf("in the values string: %w", err)
	}
	return outerSplice(doc, site.values, inner, a, b, encode(image, style))
}

// tokenAt returns the byte range of the single-line scalar n in text, and its style.
func tokenAt(text []byte, n *yaml.Node) (start, end int, style yaml.Style, err error) {
	style = n.Style &^ yaml.TaggedStyle
	if style == 0 && n.Value == "" {
		// Only a tag makes an empty plain value a string; there is no token to replace.
		return 0, 0, 0, errors.New("app.image is an empty plain value (!!str with nothing after it); write a value first")
	}
	off, err := nodeOffset(text, n)
	if err != nil {
		return 0, 0, 0, err
	}
	switch style {
	case 0:
		// A single-line plain scalar is its own text; a multi-line one differs from its
		// folded value at its first line break, so this also refuses those.
		if !bytes.HasPrefix(text[off:], []byte(n.Value)) {
			if strings.ContainsAny(n.Value, " \n") {
				return 0, 0, 0, errors.New("app.image must be written on one line")
			}
			return 0, 0, 0, mismatch("plain value not found where the parser put it")
		}
		return off, off + len(n.Value), style, nil
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		_, _, end, err := unquote(text, off)
		if err != nil {
			return 0, 0, 0, err
		}
		return off, end, style, nil
	default:
		return 0, 0, 0, errors.New("app.image must be a one-line string, not a block scalar")
	}
}

// outerSplice maps the range [a, b) of the helm.values string to the bytes of doc that
// hold it and encodes tok for the way that string is written.
func outerSplice(doc []byte, values *yaml.Node, inner []byte, a, b int, tok string) (start, end int, out string, err error) {
	off, err := nodeOffset(doc, values)
	if err != nil {
		return 0, 0, "", err
	}
	switch values.Style &^ yaml.TaggedStyle {
	case yaml.LiteralStyle:
		if off >= len(doc) || doc[off] != '|' {
			return 0, 0, "", mismatch("literal block indicator not found where the parser put it")
		}
		// Inner line k is doc line header+k with the block's indentation in front, whatever
		// that indentation is (auto-detected or |N): take it from the raw line.
		innerStarts := lineStarts(inner)
		k := lineOf(innerStarts, a)
		if lineOf(innerStarts, b) != k {
			return 0, 0, "", mismatch("app.image spans lines of the values string")
		}
		innerLine := inner[innerStarts[k]:lineEnd(inner, innerStarts, k)]
		docStarts := lineStarts(doc)
		l := lineOf(docStarts, off) + 1 + k
		if l >= len(docStarts) {
			return 0, 0, "", mismatch("cannot find the values block's lines")
		}
		docLine := doc[docStarts[l]:lineEnd(doc, docStarts, l)]
		indent := len(docLine) - len(innerLine)
		if indent < 0 || !bytes.Equal(docLine[indent:], innerLine) || strings.Trim(string(docLine[:indent]), " ") != "" {
			return 0, 0, "", mismatch("cannot match the values block's lines with its content")
		}
		base := docStarts[l] + indent - innerStarts[k]
		return base + a, base + b, tok, nil
	case 0:
		if !bytes.HasPrefix(doc[off:], []byte(values.Value)) {
			return 0, 0, "", errors.New("a plain helm.values string must be written on one line")
		}
		return off + a, off + b, tok, nil
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		decoded, at, _, err := unquote(doc, off)
		if err != nil {
			return 0, 0, "", fmt.Errorf("helm.values: %w", err)
		}
		if string(decoded) != values.Value || at[a] < 0 || at[b] < 0 {
			return 0, 0, "", mismatch("cannot map the image inside the quoted helm.values string")
		}
		if doc[off] == '\'' {
			return at[a], at[b], strings.ReplaceAll(tok, "'", "''"), nil
		}
		return at[a], at[b], escapeDouble(tok), nil
	default:
		return 0, 0, "", errors.New("helm.values written as a folded (>) block cannot be edited in place; use a literal (|) block")
	}
}

// nodeOffset returns the byte offset in text where n's own token starts.
func nodeOffset(text []byte, n *yaml.Node) (int, error) {
	off, err := offsetOf(text, n.Line, n.Column)
	if err != nil {
		return 0, err
	}
	if n.Anchor == "" && n.Style&yaml.TaggedStyle == 0 {
		return off, nil
	}
	// yaml.v3 places a node at its first property (&anchor, !tag): skip those.
	for off < len(text) {
		switch c := text[off]; {
		case c == '&' || c == '!':
			for off < len(text) && text[off] != ' ' && text[off] != '\t' && lineBreak(text, off) == 0 {
				off++
			}
		case c == ' ' || c == '\t':
			off++
		case lineBreak(text, off) > 0:
			off += lineBreak(text, off)
		default:
			if c == '#' {
				return 0, errors.New("cannot edit a value separated from its tag or anchor by a comment")
			}
			return off, nil
		}
	}
	return 0, mismatch("value not found after its tag or anchor")
}

// offsetOf converts yaml.v3's 1-based line and column (counted in characters) to a
// byte offset in text.
func offsetOf(text []byte, line, col int) (int, error) {
	starts := lineStarts(text)
	if line < 1 || line > len(starts) || col < 1 {
		return 0, mismatch("position %d:%d is outside the document", line, col)
	}
	off := starts[line-1]
	if line == 1 && bytes.HasPrefix(text, []byte("\ufeff")) {
		off = 3 // yaml.v3 drops a leading byte order mark before counting
	}
	for c := 1; c < col; c++ {
		if off >= len(text) || lineBreak(text, off) > 0 {
			return 0, mismatch("position %d:%d is outside the document", line, col)
		}
		_, w := utf8.DecodeRune(text[off:])
		off += w
	}
	return off, nil
}

// lineBreak returns the length of the line break at text[i], or 0. These are the breaks
// yaml.v3 counts lines by: CRLF, CR, LF, NEL, LS and PS.
func lineBreak(text []byte, i int) int {
	switch {
	case i >= len(text):
		return 0
	case text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n':
		return 2
	case text[i] == '\r' || text[i] == '\n':
		return 1
	case bytes.HasPrefix(text[i:], []byte("\u0085")):
		return 2
	case bytes.HasPrefix(text[i:], []byte("\u2028")), bytes.HasPrefix(text[i:], []byte("\u2029")):
		return 3
	}
	return 0
}

// lineStarts returns the byte offset of the start of each line of text.
func lineStarts(text []byte) []int {
	starts := []int{0}
	for i := 0; i < len(text); {
		if w := lineBreak(text, i); w > 0 {
			i += w
			starts = append(starts, i)
		} else {
			i++
		}
	}
	return starts
}

// lineOf returns the index of the line holding byte offset off.
func lineOf(starts []int, off int) int {
	k := 0
	for k+1 < len(starts) && starts[k+1] <= off {
		k++
	}
	return k
}

// lineEnd returns the offset of the end of line k of text, before its line break.
func lineEnd(text []byte, starts []int, k int) int {
	end := len(text)
	if k+1 < len(starts) {
		end = starts[k+1]
	}
	for i := starts[k]; i < end; i++ {
		if lineBreak(text, i) > 0 {
			return i
		}
	}
	return end
}

// unquote reads the single- or double-quoted one-line scalar starting at text[off]
// and returns its value, the offset in text where each byte of the value starts (-1 inside
// a multi-byte character or an escape, the closing quote for the end of the value), and the
// offset just past the closing quote.
func unquote(text []byte, off int) (value []byte, at []int, end int, err error) {
	if off >= len(text) || (text[off] != '\'' && text[off] != '"') {
		return nil, nil, 0, mismatch("quoted value not found where the parser put it")
	}
	q := text[off]
	for i := off + 1; i < len(text); {
		if lineBreak(text, i) > 0 {
			return nil, nil, 0, errors.New("a quoted value must be written on one line")
		}
		start, c := i, text[i]
		var r rune
		switch {
		case c == q && q == '\'' && i+1 < len(text) && text[i+1] == '\'':
			r, i = '\'', i+2
		case c == q:
			return value, append(at, i), i + 1, nil
		case c == '\\' && q == '"':
			if r, i, err = unescape(text, i); err != nil {
				return nil, nil, 0, err
			}
		default:
			_, w := utf8.DecodeRune(text[i:])
			value = append(value, text[i:i+w]...)
			at = append(at, i)
			for j := 1; j < w; j++ {
				at = append(at, -1)
			}
			i += w
			continue
		}
		n := len(value)
		value = utf8.AppendRune(value, r)
		at = append(at, start)
		for j := n + 1; j < len(value); j++ {
			at = append(at, -1)
		}
	}
	return nil, nil, 0, mismatch("quoted value is not closed")
}

// escapes are YAML's one-character escapes in double-quoted scalars.
var escapes = map[byte]rune{
	'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
	'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85, '_': 0xa0,
	'L': 0x2028, 'P': 0x2029,
}

// unescape decodes the escape sequence at text[i] (a backslash) and returns the
// character and the offset after the sequence.
func unescape(text []byte, i int) (rune, int, error) {
	if i+1 >= len(text) || lineBreak(text, i+1) > 0 {
		return 0, 0, errors.New("a quoted value must be written on one line")
	}
	e := text[i+1]
	if r, ok := escapes[e]; ok {
		return r, i + 2, nil
	}
	digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
	if digits == 0 || i+2+digits > len(text) {
		return 0, 0, mismatch("unknown escape \\%c", e)
	}
	v, err := strconv.ParseUint(string(text[i+2:i+2+digits]), 16, 32)
	if err != nil || v > utf8.MaxRune {
		return 0, 0, mismatch("bad escape %q", text[i:i+2+digits])
	}
	return rune(v), i + 2 + digits, nil
}

// encode writes image as a scalar token of the given style.
func encode(image string, style yaml.Style) string {
	switch {
	case style == yaml.SingleQuotedStyle:
		return "'" + strings.ReplaceAll(image, "'", "''") + "'"
	case style == 0 && plainSafe(image):
		return image
	default:
		return `"` + escapeDouble(image) + `"`
	}
}

// escapeDouble escapes s for the inside of a double-quoted scalar. s holds only
// printable characters (checkImage), so only quotes and backslashes need it.
func escapeDouble(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// plainSafe reports whether image reads back as the same string when written plain,
// in block or flow context, by YAML 1.2 (yaml.v3) and YAML 1.1 (Helm's parser) alike. It is
// conservative: anything that looks like a number, bool, null or timestamp gets quoted.
func plainSafe(image string) bool {
	if image == "" || strings.HasSuffix(image, ":") {
		return false
	}
	for i, r := range image {
		alnum := r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
		switch {
		case alnum || r == '_' || r == '/':
		case i > 0 && strings.ContainsRune(".:@+-", r):
		default:
			return false
		}
	}
	switch strings.ToLower(image) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null":
		return false
	}
	if image[0] >= '0' && image[0] <= '9' && strings.Trim(image, "0123456789abcdefABCDEFoOxXtTzZ._:+-") == "" {
		return false
	}
	return true
}

// verify parses the edited manifest and checks that it differs from the original,
// whose root is root, in nothing but the value of app.image, which now is image.
func verify(root *yaml.Node, site location, out []byte, image string) error {
	root2, site2, err := findImage(out)
	if err != nil {
		return mismatch("the edited manifest would not read back: %w", err)
	}
	if site2.path != site.path || site2.image.Value != image {
		return mismatch("the edited manifest would read back as %q in %s", site2.image.Value, site2.path)
	}
	same := sameTree(root, root2, site.image, true)
	if site.values != nil {
		same = sameTree(root, root2, site.values, false) && sameTree(site.inner, site2.inner, site.image, true)
	}
	if !same {
		return mismatch("the edit would change more than app.image")
	}
	return nil
}

// sameTree reports whether the trees a and b are equal, positions aside, except for the
// value of the node skip of a (and its style when skipStyle).
func sameTree(a, b, skip *yaml.Node, skipStyle bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) ||
		a.HeadComment != b.HeadComment || a.LineComment != b.LineComment || a.FootComment != b.FootComment {
		return false
	}
	if a != skip && a.Value != b.Value {
		return false
	}
	if (a != skip || !skipStyle) && a.Style != b.Style {
		return false
	}
	for i := range a.Content {
		if !sameTree(a.Content[i], b.Content[i], skip, skipStyle) {
			return false
		}
	}
	return true
}
