package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeError turns what yaml.v3 reports about idp.yaml into one line that says where the
// problem is and what to do: yaml.v3 lists type errors one per line, each naming the Go type.
func decodeError(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			msgs = append(msgs, goTypes.Replace(m))
		}
		return fmt.Errorf("%s: fix the field's name or value (the repository's idp.yaml shows every field)", strings.Join(msgs, "; "))
	}
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if strings.HasPrefix(msg, "yaml: ") {
		return fmt.Errorf("not valid YAML: %s: fix the syntax there (indentation, a missing ':' or quote)", strings.TrimPrefix(msg, "yaml: "))
	}
	return fmt.Errorf("parsing config: %s", msg)
}

// goTypes names Go types the way idp.yaml's reader thinks of them.
var goTypes = strings.NewReplacer(
	"!!str", "a string", "!!seq", "a list", "!!map", "a mapping", "!!int", "a number", "!!bool", "a boolean",
	"into bool", "into a boolean (true or false)", "into int", "into a whole number",
	"into []string", "into a list of strings", "into map[string]string", "into a mapping of names to strings",
	"into string", "into a string",
	" in type config.", " in ")
