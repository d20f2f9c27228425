package pipeline

import (
	"time"

	"github.com/berthdev/berth/internal/spec"
)

// Defaults filled in by SetDefaults.
const (
	DefaultStepTimeout     = time.Hour
	DefaultNotifyTimeout   = time.Minute
	DefaultApprovalTimeout = 24 * time.Hour
)

// SetDefaults fills what a file may leave out, so that readers of a parsed
// pipeline need not repeat the defaults.
func (p *Pipeline) SetDefaults() {
	for i := range p.Steps {
		s := &p.Steps[i]
		switch s.Kind() {
		case KindRun, KindDeploy:
			if s.Timeout == 0 {
				s.Timeout = spec.Duration(DefaultStepTimeout)
			}
		case KindNotify:
			if s.Timeout == 0 {
				s.Timeout = spec.Duration(DefaultNotifyTimeout)
			}
			if len(s.Notify.On) == 0 {
				s.Notify.On = []string{OnSuccess, OnFailure}
			}
		case KindApproval:
			if s.Approval.Count == 0 {
				s.Approval.Count = 1
			}
			if s.Approval.Timeout == 0 {
				s.Approval.Timeout = spec.Duration(DefaultApprovalTimeout)
			}
		}
	}
}
