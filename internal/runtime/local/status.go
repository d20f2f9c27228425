package local

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/berthdev/berth/internal/runtime"
)

// Status reads the instances' state files. An instance whose shim is not
// running (killed, or the machine rebooted) is reported failed until the
// runtime's periodic check has started a new shim.
func (r *Runtime) Status(ctx context.Context, id string) (runtime.WorkloadStatus, error) {
	if !validID.MatchString(id) {
		return runtime.WorkloadStatus{}, fmt.Errorf("workload %q: %w", id, runtime.ErrNotFound)
	}
	w, err := r.readWorkload(id)
	if errors.Is(err, os.ErrNotExist) {
		return runtime.WorkloadStatus{}, fmt.Errorf("workload %q: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return runtime.WorkloadStatus{}, fmt.Errorf("local runtime: %w", err)
	}
	return r.workloadStatus(w)
}

// List returns the status of every workload of app ("" for all).
func (r *Runtime) List(ctx context.Context, app string) ([]runtime.WorkloadStatus, error) {
	ids, err := r.layout.workloadIDs()
	if err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	out := []runtime.WorkloadStatus{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w, err := r.readWorkload(id)
		if err != nil {
			continue // deleted meanwhile, or being written
		}
		if app != "" && w.App != app {
			continue
		}
		ws, err := r.workloadStatus(w)
		if err != nil {
			continue
		}
		out = append(out, ws)
	}
	return out, nil
}

func (r *Runtime) workloadStatus(w runtime.Workload) (runtime.WorkloadStatus, error) {
	ws := runtime.WorkloadStatus{
		ID: w.ID, App: w.App, Service: w.Service, Release: w.Release,
		Replicas: w.Replicas, Instances: []runtime.Instance{}, Env: w.Env,
	}
	if a := w.Spec.Autoscale; a != nil {
		ws.Autoscale = fmt.Sprintf("not done by the local runtime: it runs autoscale.min, %d instances (autoscale.max %d is for clusters)", a.Min, a.Max)
	}
	indexes, err := r.layout.instanceIndexes(w.ID)
	if err != nil {
		return ws, err
	}
	for _, n := range indexes {
		inst, limits, ok := r.instanceStatus(r.layout.instance(w.ID, n))
		if !ok {
			continue
		}
		if inst.Ready {
			ws.Ready++
		}
		if ws.Limits == "" {
			ws.Limits = limits
		}
		ws.Instances = append(ws.Instances, inst)
	}
	return ws, nil
}

// instanceStatus reads one instance folder; ok is false for a folder still
// being created.
func (r *Runtime) instanceStatus(dir string) (inst runtime.Instance, limits string, ok bool) {
	is, err := readInstanceSpec(dir)
	if err != nil {
		return inst, "", false
	}
	inst = runtime.Instance{
		ID: is.ID, Index: is.Index, Port: is.Port, Host: "127.0.0.1", Node: r.node,
		State: runtime.StateStarting, Message: "starting supervisor",
	}
	st, err := readState(dir)
	hasState := err == nil
	if hasState {
		inst.Restarts, inst.LastExit, inst.StartedAt = st.Restarts, st.LastExit, st.StartedAt
		limits = st.Limits
	}
	alive := shimAlive(dir)
	switch {
	case alive && hasState && sameProcess(st.ShimPID, st.ShimStart):
		inst.State, inst.Ready, inst.Message = st.State, st.Ready, st.Message
		inst.PID = st.PID
	case alive || r.recentlyStarted(dir):
		// A new shim that has not written its state yet.
	default:
		inst.State = runtime.StateFailed
		inst.Message = "supervisor (shim) is not running; the runtime starts a new one"
		if hasState && st.ShimPID > 0 {
			inst.Message = fmt.Sprintf("supervisor (shim pid %d) is not running; the runtime starts a new one", st.ShimPID)
		}
		if hasState && sameProcess(st.PID, st.PIDStart) {
			inst.PID = st.PID
		}
	}
	return inst, limits, true
}

// snapshot is the status of every workload, for Watch.
func (r *Runtime) snapshot(ctx context.Context) map[string]runtime.WorkloadStatus {
	list, err := r.List(ctx, "")
	if err != nil {
		return nil
	}
	out := make(map[string]runtime.WorkloadStatus, len(list))
	for _, ws := range list {
		out[ws.ID] = ws
	}
	return out
}
