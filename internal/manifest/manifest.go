package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// errMismatch means the text of a manifest and what yaml.v3 parsed from it did not
// line up, or an edit would have changed more than the image. SetImage refuses the edit; the
// cause is a gap in this package (the fuzz test looks for them) rather than in the manifest.
var errMismatch = errors.New("cannot edit the manifest in place")

// mismatch returns an error wrapping errMismatch.
func mismatch(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errMismatch}, args...)...)
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
