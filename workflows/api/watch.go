package api

import (
	"fmt"

	"github.com/alexpermiakov/idp/internal/imagewatch"
)

// The image watch: a Temporal Schedule per service, each action one ImageWatch run that looks
// at the service's ECR repository and starts Promote for a new tag.
const (
	ImageWatchWorkflowName = "ImageWatch"
	ImageWatchIDPrefix     = "image-watch-"
)

// ImageWatchID is the ID of a service's polling schedule and the prefix of the runs it starts.
func ImageWatchID(service string) string { return ImageWatchIDPrefix + service }

// ImageWatchInput starts ImageWatch: the service whose ECR repository it looks at.
type ImageWatchInput struct {
	Service string `json:"service"`
}

// ImageWatchResult is what one look did: the promotions it started, and one line per entry
// env saying why (or why nothing).
type ImageWatchResult struct {
	Started []string `json:"started"`
	Notes   []string `json:"notes"`
}

// PromoteStart is the start of promote-<service>-<tag> the image watch asks for, by an event
// or a poll: unsigned, by requester, as far as policy allows without a person.
func PromoteStart(p imagewatch.Push, requester string) imagewatch.StartSpec {
	return imagewatch.StartSpec{WorkflowID: PromoteID(p.Service, p.Tag), WorkflowType: PromoteWorkflowName, TaskQueue: TaskQueue,
		Arg: PromoteInput{Service: p.Service, Tag: p.Tag, Requester: requester},
		Keywords: map[string]string{AttrKind.GetName(): KindPromote, AttrService.GetName(): p.Service, AttrVersion.GetName(): p.Tag,
			AttrEnvironment.GetName(): p.Entry, AttrStage.GetName(): string(StagePreparing)},
		Summary: fmt.Sprintf("promote %s %s to %s (by %s)", p.Service, p.Tag, p.Last, requester)}
}
