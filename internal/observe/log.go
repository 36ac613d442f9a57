package observe

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"
)

// Log formats.
const (
	LogJSON = "json"
	LogText = "text"
)

// NewLogger returns a slog logger writing to w in format (LogJSON, LogText, or "" for text
// on a terminal and JSON otherwise) at level (debug, info, warn, error; "" is info). Through
// go.temporal.io/sdk/log.NewStructuredLogger it becomes the SDK's logger, which adds
// WorkflowID, RunID and the rest of a workflow's or activity's identity to each line logged
// in one.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(orDefault(level, "info"))); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "" {
		format = LogJSON
		if isTerminal(w) {
			format = LogText
		}
	}
	switch strings.ToLower(format) {
	case LogJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case LogText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want json or text", format)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
