package api

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/alexpermiakov/idp/internal/signature"
)

// TrainWorkflowName is the workflow type of a release train.
const TrainWorkflowName = "Train"

// TrainIDPrefix starts the workflow ID of a release train: train-<name>.
const TrainIDPrefix = "train-"

// KindTrain is the run kind of a release train.
const KindTrain = "train"

// TrainID is the workflow ID of the release train name.
func TrainID(name string) string { return TrainIDPrefix + name }

// TrainMember is one service of a train and the tag it takes.
type TrainMember struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
}

// TrainInput starts Train: several services promoted together, env by env, all or nothing.
type TrainInput struct {
	Name    string        `json:"name"`
	Members []TrainMember `json:"members"`
	// To is the last env; empty means as far as policy allows without a person.
	To        string    `json:"to,omitempty"`
	Requester string    `json:"requester"`
	Signature string    `json:"signature,omitempty"`
	SignedAt  time.Time `json:"signedAt,omitzero"`
}

// Statement is what the requester of a train signs: the run, the env as asked, the subject
// "service:tag,service:tag" in service order and the signing time.
func (in TrainInput) Statement(workflowID string) signature.Statement {
	parts := make([]string, 0, len(in.Members))
	for _, m := range in.Members {
		parts = append(parts, m.Service+":"+m.Tag)
	}
	slices.Sort(parts)
	return signature.Statement{WorkflowID: workflowID, Env: in.To, Decision: signature.DecisionRequest,
		Subject: strings.Join(parts, ","), SignedAt: in.SignedAt}
}

// TrainImage is one member of a train as resolved: what it deploys, by digest.
type TrainImage struct {
	Service string `json:"service"`
	Tag     string `json:"tag"`
	Image   string `json:"image,omitempty"`
	Digest  string `json:"digest,omitempty"`
	// Environments are this service's states in the train's envs.
	Environments []EnvStatus `json:"environments"`
}

// TrainStatus is what a train adds to the status document.
type TrainStatus struct {
	Name string `json:"name"`
	// Subject is the digest approvals bind to: TrainSubject over every member's digest.
	Subject string       `json:"subject,omitempty"`
	Members []TrainImage `json:"members"`
}

// TrainSubject is what an approval of a train binds to: "sha256:" and the hex sha256 of the
// sorted "service@digest" lines, one per member, each ending in a newline. Changing any
// member's digest changes it.
func TrainSubject(members []TrainImage) string {
	lines := make([]string, 0, len(members))
	for _, m := range members {
		lines = append(lines, m.Service+"@"+m.Digest+"\n")
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "")))
	return "sha256:" + hex.EncodeToString(sum[:])
}
