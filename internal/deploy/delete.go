package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// reconcileDelete stops every workload of an app marked Deleting and, once
// the runtime lists none, removes its releases and record.
func (r *Reconciler) reconcileDelete(ctx context.Context, a store.App) (Result, error) {
	list, err := r.rt.List(ctx, a.Name)
	if err != nil {
		return Result{}, fmt.Errorf("deploy: list workloads of %s: %w", a.Name, err)
	}
	if r.opts.Proxy != nil {
		r.opts.Proxy.RemoveApp(a.Name)
	}
	r.watched.Delete(a.Name)
	r.drains.Delete(a.Name)
	now := r.now()
	if len(list) > 0 {
		var errs []error
		for _, w := range list {
			if err := r.rt.Delete(ctx, w.ID); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", w.ID, err))
			}
		}
		st := a.Status
		st.Phase = api.PhaseDeleting
		st.Message = fmt.Sprintf("stopping %d workloads", len(list))
		st.Conditions = []api.Condition{{
			Type: api.ConditionProgressing, Status: "True", Reason: reasonDeleting,
			Message: st.Message, LastTransitionTime: now,
		}}
		keepTransitions(a.Status.Conditions, st.Conditions)
		if !sameStatus(a.Status, st) {
			st.ObservedAt = now
			a.Status, a.UpdatedAt = st, now
			if _, err := writeApp(ctx, r.store, a, now); err != nil {
				errs = append(errs, err)
			}
		}
		return Result{RequeueAfter: r.opts.Requeue}, errors.Join(errs...)
	}
	err = r.store.InTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteReleases(ctx, a.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("deploy: delete releases of %s: %w", a.Name, err)
		}
		if err := tx.DeleteApp(ctx, a.Name); err != nil {
			return fmt.Errorf("deploy: delete app %s: %w", a.Name, err)
		}
		_, err := tx.AppendEvent(ctx, store.Event{Kind: api.EventAppDeleted, App: a.Name, Time: now})
		return err
	})
	if err != nil {
		return Result{}, err
	}
	r.log.Info("app deleted", "app", a.Name)
	return Result{}, nil
}

// reconcileGone removes workloads of an app the store does not know (left
// behind by a crash between deleting them and deleting the record, or by a
// store that was reset).
func (r *Reconciler) reconcileGone(ctx context.Context, app string) (Result, error) {
	list, err := r.rt.List(ctx, app)
	if err != nil {
		return Result{}, fmt.Errorf("deploy: list workloads of %s: %w", app, err)
	}
	if r.opts.Proxy != nil {
		r.opts.Proxy.RemoveApp(app)
	}
	r.watched.Delete(app)
	r.drains.Delete(app)
	if len(list) == 0 {
		return Result{}, nil
	}
	var errs []error
	for _, w := range list {
		r.log.Info("deleting workload of unknown app", "app", app, "workload", w.ID)
		if err := r.rt.Delete(ctx, w.ID); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", w.ID, err))
		}
	}
	return Result{RequeueAfter: r.opts.Requeue}, errors.Join(errs...)
}
