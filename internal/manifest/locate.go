package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// noImage is returned when no location holds app.image.
const noImage = "no app.image found (looked in spec.source(s)[].helm.values, helm.valuesObject, and top-level app.image)"

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
				return nil, fmt.Errorf("%s.parameters[%d] sets app.image, which overrides helm values; idp does not edit parameters: remove that parameter and set the image as app.image in the values", path, i)
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
