package spec

import (
	"encoding/json"
	"fmt"
	"time"
)

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration does ("1m30s"), which ParseDuration
// reads back exactly, so canonical JSON round-trips.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string such as "5s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a string such as "5s" or "1m30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: expected a string like \"5s\": %w", err)
	}
	return d.UnmarshalText([]byte(s))
}

// MarshalText lets YAML encoders and other text formats write d as "5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a string such as "5s" or "1m30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration: expected a duration like \"5s\" or \"1m30s\", got %q", b)
	}
	*d = Duration(v)
	return nil
}
