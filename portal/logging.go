package portal

import (
	"io"
	"log/slog"
)

// NewLogger returns the portal's structured JSON logger. The level is
// checked with the rest of the configuration (LoadConfig).
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
