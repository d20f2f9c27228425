package webhook

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
)

// Handler answers webhook requests for rc and calls start with each event
// that may start a run. An error from start is answered 500, so the forge
// shows the delivery as failed and can redeliver it (with a new delivery
// ID on GitHub; the same one elsewhere is refused as a replay).
func Handler(log *slog.Logger, rc *Receiver, start func(ctx context.Context, ev *Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ev, err := rc.Receive(ctx, r)
		if err == nil {
			err = start(ctx, ev)
		}
		code := StatusCode(err)
		switch {
		case err == nil:
			log.InfoContext(ctx, "webhook accepted", "forge", ev.Forge, "delivery", ev.DeliveryID, "kind", ev.Kind, "repo", ev.Repo, "ref", ev.Ref, "commit", ev.Commit)
			http.Error(w, "accepted", code)
		case errors.Is(err, ErrIgnored):
			log.DebugContext(ctx, "webhook ignored", "forge", rc.Forge, "reason", err)
			http.Error(w, err.Error(), code)
		case code == http.StatusInternalServerError:
			log.ErrorContext(ctx, "webhook failed", "forge", rc.Forge, "err", err)
			http.Error(w, "internal error", code)
		default:
			// The sender learns what was wrong, not more: a bad signature
			// is only "bad or missing signature".
			log.WarnContext(ctx, "webhook refused", "forge", rc.Forge, "status", code, "err", err, "remote", r.RemoteAddr)
			http.Error(w, err.Error(), code)
		}
	})
}
