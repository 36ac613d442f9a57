package imagewatch

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/alexpermiakov/idp/internal/config"
	"github.com/alexpermiakov/idp/internal/policy"
)

// Image is one tagged image of a service's ECR repository.
type Image struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
	// PushedAt is when the tag was pushed; zero when the registry does not say (an emulator
	// without DescribeImages), and then the listing's order (newest first) decides.
	PushedAt time.Time `json:"pushedAt,omitzero"`
}

// Decision is what the watch does about one entry env of a service.
type Decision struct {
	Env string `json:"env"`
	// Push is the promotion to start; its Tag is empty when there is nothing to start.
	Push Push `json:"push"`
	// Reason says why, for the watch's result and logs.
	Reason string `json:"reason"`
}

// Decide picks, for each env that tags enter (an entry pattern of its own), the newest of
// images that enter there and promotes it unless it is not newer than what the env runs
// (running: env name to the tag its manifest pins, "" when none). vX.Y.Z tags compare as
// versions, others by push time. The watch never promotes backwards, and of several new tags
// it takes only the newest: the older would be replaced at once.
func Decide(cfg *config.Config, service string, images []Image, running map[string]string) []Decision {
	var out []Decision
	for _, env := range cfg.Environments {
		if env.Promotion.EntryPattern == "" {
			continue
		}
		d := Decision{Env: env.Name}
		best := -1
		for i, img := range images {
			path, err := policy.Path(cfg, policy.Input{Service: service, Tag: img.Tag})
			if err != nil || path[0].Name != env.Name {
				continue
			}
			if best < 0 || newer(images, i, best) {
				best = i
			}
		}
		cur := running[env.Name]
		switch {
		case best < 0:
			d.Reason = "no tag in ECR enters " + env.Name
		case images[best].Tag == cur:
			d.Reason = fmt.Sprintf("%s already runs the newest tag, %s", env.Name, cur)
		case cur != "" && !newerThanRunning(images, best, cur):
			d.Reason = fmt.Sprintf("the newest tag, %s, is not newer than %s, which %s runs: the watch does not promote backwards", images[best].Tag, cur, env.Name)
		default:
			path, _ := policy.Path(cfg, policy.Input{Service: service, Tag: images[best].Tag})
			img := images[best]
			d.Push = Push{Service: service, Tag: img.Tag, Digest: img.Digest, Entry: path[0].Name, Last: path[len(path)-1].Name}
			d.Reason = fmt.Sprintf("%s is the newest tag entering %s", img.Tag, env.Name)
		}
		out = append(out, d)
	}
	return out
}

// newerThanRunning reports whether images[i] is newer than the tag cur an env runs. A running
// tag the registry no longer lists (a lifecycle policy removed it) is older than anything
// listed, unless both are versions.
func newerThanRunning(images []Image, i int, cur string) bool {
	for j := range images {
		if images[j].Tag == cur {
			return newer(images, i, j)
		}
	}
	if a, ok := semver(images[i].Tag); ok {
		if b, ok := semver(cur); ok {
			return compare(a, b) > 0
		}
	}
	return true
}

// newer reports whether images[i] is newer than images[j]: as versions when both tags are
// vX.Y.Z, else by push time, else (no push times) by position in the listing, newest first.
func newer(images []Image, i, j int) bool {
	if a, ok := semver(images[i].Tag); ok {
		if b, ok := semver(images[j].Tag); ok {
			return compare(a, b) > 0
		}
	}
	ti, tj := images[i].PushedAt, images[j].PushedAt
	if !ti.IsZero() && !tj.IsZero() {
		return ti.After(tj)
	}
	return i < j
}

var semverRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)$`)

func semver(tag string) ([3]int, bool) {
	m := semverRE.FindStringSubmatch(tag)
	if m == nil {
		return [3]int{}, false
	}
	var v [3]int
	for k := range v {
		n, err := strconv.Atoi(m[k+1])
		if err != nil {
			return [3]int{}, false
		}
		v[k] = n
	}
	return v, true
}

func compare(a, b [3]int) int {
	for k := range a {
		if a[k] != b[k] {
			return a[k] - b[k]
		}
	}
	return 0
}
