package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// timeLayout is RFC 3339 with a fixed nine-digit fraction: in UTC every
// value has the same width, so the text sorts in time order. Unix
// nanoseconds would not do: they overflow int64 before year 1678, and the
// zero time.Time is year 1.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// FormatTime is how every backend stores a time: UTC, timeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(col, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: column %s: %w", col, err)
	}
	return t.UTC(), nil
}

// marshal encodes a JSON column; field names the Go field for the error.
func marshal(field string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w: %w", field, store.ErrInvalid, err)
	}
	return string(b), nil
}

func unmarshal(col, s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("store: column %s: %w", col, err)
	}
	return nil
}

// rawJSON checks a caller's raw JSON and keeps its bytes exactly; empty is
// stored as NULL.
func rawJSON(field string, m json.RawMessage) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if !json.Valid(m) {
		return nil, fmt.Errorf("%s: not valid JSON: %w", field, store.ErrInvalid)
	}
	return string(m), nil
}

// fromRawJSON is rawJSON's inverse: NULL becomes nil.
func fromRawJSON(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// noLimit stands for "no LIMIT" in a query that takes one as an argument:
// SQLite reads a negative LIMIT as none, PostgreSQL rejects it; both take
// the largest int64.
const noLimit = math.MaxInt64
