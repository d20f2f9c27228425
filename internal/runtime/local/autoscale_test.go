package local

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime/runtimetest"
	"github.com/berthdev/berth/internal/spec"
)

// TestAutoscaleRunsMin: the local runtime does not autoscale: it runs the
// replicas it is given (the reconciler gives autoscale.min) and its status
// says so.
func TestAutoscaleRunsMin(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "auto", runtimetest.Healthy)
	w.Replicas = 2
	w.Spec.Resources.CPU = "500m"
	w.Spec.Autoscale = &spec.Autoscale{Min: 2, Max: 10, CPU: 70}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rt.Apply(ctx, w); err != nil {
		t.Fatal(err)
	}
	ws := waitReady(t, rt, w.ID, 2)
	if !strings.Contains(ws.Autoscale, "not done by the local runtime: it runs autoscale.min, 2 instances") {
		t.Errorf("autoscale %q", ws.Autoscale)
	}
}
