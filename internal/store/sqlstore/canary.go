package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

// canaryRow is store.Canary as the apps.canary column holds it: JSON, with
// the time in the store's fixed-width UTC text like every other time.
type canaryRow struct {
	Release       int    `json:"release"`
	Weight        int    `json:"weight"`
	Step          int    `json:"step"`
	StepStartedAt string `json:"step_started_at"`
	Manual        bool   `json:"manual,omitempty"`
	Promote       bool   `json:"promote,omitempty"`
}

// encodeCanary returns the column value: NULL for no canary.
func encodeCanary(c *store.Canary) (any, error) {
	if c == nil {
		return nil, nil
	}
	b, err := json.Marshal(canaryRow{
		Release: c.Release, Weight: c.Weight, Step: c.Step,
		StepStartedAt: FormatTime(c.StepStartedAt), Manual: c.Manual, Promote: c.Promote,
	})
	if err != nil {
		return nil, fmt.Errorf("app canary: %w: %w", store.ErrInvalid, err)
	}
	return string(b), nil
}

func decodeCanary(s *string) (*store.Canary, error) {
	if s == nil {
		return nil, nil
	}
	var row canaryRow
	if err := unmarshal("apps.canary", *s, &row); err != nil {
		return nil, err
	}
	at, err := parseTime("apps.canary.step_started_at", row.StepStartedAt)
	if err != nil {
		return nil, err
	}
	return &store.Canary{
		Release: row.Release, Weight: row.Weight, Step: row.Step,
		StepStartedAt: at, Manual: row.Manual, Promote: row.Promote,
	}, nil
}
