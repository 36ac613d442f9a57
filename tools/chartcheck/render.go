// Package chartcheck checks helm-charts/idp-worker the way its users meet it: rendered by the
// Helm SDK exactly as `helm install` and `helm template` render it (values schema, template
// checks, NOTES.txt), linted by Helm's own linter, and every rendered object sent to a real
// kube-apiserver with a server-side dry run, so the API server itself validates it. It is a
// module of its own so Helm's Kubernetes libraries stay out of the product's go.mod.
package chartcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Rendered is what an install of the chart would create.
type Rendered struct {
	// Objects are the manifests in Helm's install order.
	Objects []*unstructured.Unstructured
	// Notes is the rendered NOTES.txt.
	Notes string
}

// Find returns the object of kind named name, or nil.
func (r *Rendered) Find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.Objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// Kinds lists the kinds of the objects, sorted.
func (r *Rendered) Kinds() []string {
	kinds := make([]string, 0, len(r.Objects))
	for _, o := range r.Objects {
		kinds = append(kinds, o.GetKind())
	}
	sort.Strings(kinds)
	return kinds
}

// Render renders the chart in chartDir as `helm install RELEASE CHART --dry-run
// --namespace NAMESPACE` does without a cluster (`helm template`), with values merged from
// opts the way the helm CLI merges -f, --set and --set-file. A value the schema or the
// templates refuse comes back as the error helm would print.
func Render(ctx context.Context, chartDir, release, namespace string, opts values.Options) (*Rendered, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", chartDir, err)
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("reading values: %w", err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.DryRunOption = "client"
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = release
	install.Namespace = namespace
	rel, err := install.RunWithContext(ctx, chrt, vals)
	if err != nil {
		return nil, err
	}
	out := &Rendered{}
	if rel.Info != nil {
		out.Notes = rel.Info.Notes
	}
	if len(rel.Hooks) > 0 {
		return nil, fmt.Errorf("the chart has %d hooks; chartcheck expects none", len(rel.Hooks))
	}
	// Read the manifest as one stream, the way Helm's Kubernetes client does when it
	// installs it (splitting documents first would trim what a block scalar ends with).
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rel.Manifest), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("rendered manifest: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "" || o.GetAPIVersion() == "" || o.GetName() == "" {
			return nil, fmt.Errorf("a rendered object has no kind, apiVersion or name: %v", m)
		}
		out.Objects = append(out.Objects, o)
	}
	return out, nil
}

// Lint runs `helm lint --strict` on the chart with the values opts gives and returns every
// message at warning level or above, as one error.
func Lint(chartDir, namespace string, opts values.Options) error {
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		return fmt.Errorf("reading values: %w", err)
	}
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{chartDir}, vals)
	var errs []error
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			errs = append(errs, fmt.Errorf("%s", m.Error()))
		}
	}
	if len(errs) == 0 && len(res.Errors) > 0 {
		errs = res.Errors
	}
	return errors.Join(errs...)
}

// ToYAML writes objects as one multi-document YAML stream (for failure messages).
func ToYAML(w io.Writer, objs ...*unstructured.Unstructured) {
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			fmt.Fprintf(&b, "# %s/%s: %v\n", o.GetKind(), o.GetName(), err)
			continue
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	_, _ = w.Write(b.Bytes())
}
