package platform

import (
	"context"
	"strings"
)

// RequesterKeysInput names the person who asked for a run.
type RequesterKeysInput struct {
	Name string `json:"name"`
}

// RequesterKeys reads the requester's public keys from the worker's current idp.yaml when a
// signed request starts a run; the answer is recorded in history, so a replay checks the
// request against the same keys and a rotated key counts from the next run on. An unknown
// person has no keys, and the run refuses their signed request.
func (a *Activities) RequesterKeys(_ context.Context, in RequesterKeysInput) (PersonKeys, error) {
	name := strings.ToLower(strings.TrimSpace(in.Name))
	keys := a.Config.Keys(name)
	if keys == nil {
		keys = []string{}
	}
	return PersonKeys{Name: name, Keys: keys}, nil
}
