package deploy

import (
	"fmt"
	"strings"

	"github.com/berthdev/berth/pkg/api"
)

// serviceConditions states each service's own Progressing / Available /
// Degraded / Failed, so a user sees which service holds a rollout up or
// broke a release without reading the app's message.
func (p *pass) serviceConditions(in statusIn, ss api.ServiceStatus) []api.Condition {
	cond := func(typ string, ok bool, reason, msg string) api.Condition {
		s := "False"
		if ok {
			s = "True"
		}
		return api.Condition{Type: typ, Status: s, Reason: reason, Message: msg, LastTransitionTime: p.now}
	}
	svc := ss.Name

	progressing := cond(api.ConditionProgressing, false, reasonComplete, "")
	if in.rollout && in.target != nil && !serviceDone(in.target, svc, in.obs) {
		msg := fmt.Sprintf("release %d: ", in.target.number())
		if dep, ok := in.pl.blocked[svc]; ok {
			msg += "waiting for " + dep
		} else {
			ready := 0
			if w := in.obs.at(svc, in.target.number()); w != nil {
				ready = w.Ready
			}
			msg += fmt.Sprintf("%d/%d ready", ready, in.target.replicas(svc))
		}
		progressing = cond(api.ConditionProgressing, true, reasonRollingOut, msg)
	}

	available := cond(api.ConditionAvailable, true, reasonMinAvailable, "")
	if ss.Desired > 0 && ss.Ready == 0 {
		available = cond(api.ConditionAvailable, false, reasonNoReady, fmt.Sprintf("0/%d ready", ss.Desired))
	}

	degraded := cond(api.ConditionDegraded, false, reasonHealthy, "")
	if !in.rollout && ss.Ready < ss.Desired {
		msg := fmt.Sprintf("%d/%d ready", ss.Ready, ss.Desired)
		for _, inst := range ss.Instances {
			if !inst.Ready && inst.Message != "" {
				msg += ": " + inst.Message
				break
			}
		}
		degraded = cond(api.ConditionDegraded, true, reasonNotReady, msg)
	}

	failed := cond(api.ConditionFailed, false, "", "")
	if t := in.target; t != nil && t.rec.State == api.ReleaseFailed &&
		strings.HasPrefix(t.rec.Message, "service "+svc+":") {
		failed = cond(api.ConditionFailed, true, t.rec.Reason, t.rec.Message)
	}
	return []api.Condition{progressing, available, degraded, failed}
}
