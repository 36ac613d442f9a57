package manifest

import "gopkg.in/yaml.v3"

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
