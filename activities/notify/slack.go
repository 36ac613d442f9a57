package notify

import (
	"fmt"
	"strings"
	"time"
)

// slack is a message a Slack incoming webhook (and Mattermost, Rocket.Chat, Teams' Slack
// compatible hooks) accepts: text is the fallback and the notification, blocks the layout.
type slack struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func mrkdwn(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }

// slackMessage renders ev: its text, then what it is about, then, for an approval, the
// command that gives it.
func slackMessage(ev Event) slack {
	text := ev.Text
	if text == "" {
		text = fmt.Sprintf("%s in %s", strings.ReplaceAll(ev.Type, "_", " "), ev.Env)
	}
	m := slack{Text: text}
	m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: ptr(mrkdwn(text))})
	var facts []string
	for _, f := range []struct{ k, v string }{{"env", ev.Env}, {"service", ev.Service}, {"tag", ev.Tag},
		{"digest", ev.Digest}, {"run", ev.WorkflowID}, {"by", ev.Who}} {
		if f.v != "" {
			facts = append(facts, fmt.Sprintf("*%s* `%s`", f.k, f.v))
		}
	}
	if len(facts) > 0 {
		m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: []slackText{mrkdwn(strings.Join(facts, "  ·  "))}})
	}
	if ev.ApproveCommand != "" {
		approve := fmt.Sprintf("Approve %s `%s`", ev.Env, ev.Subject)
		if !ev.ExpiresAt.IsZero() {
			approve += " before " + ev.ExpiresAt.UTC().Format(time.RFC3339)
		}
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Text: ptr(mrkdwn(approve + ":\n```" + ev.ApproveCommand + "```"))})
	}
	return m
}

func ptr[T any](v T) *T { return &v }
