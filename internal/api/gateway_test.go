package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestGatewaySnapshot serves the routes of the serving release, with the
// revision to watch from, only with a token.
func TestGatewaySnapshot(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	if resp := ts.do(t, http.MethodGet, "/api/v1/gateway/snapshot", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		resp.Body.Close()
		t.Fatalf("without a token: %d", resp.StatusCode)
	} else {
		resp.Body.Close()
	}

	var empty api.GatewaySnapshot
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/gateway/snapshot", nil, &empty)
	if empty.Revision != 0 || empty.Routes == nil || len(empty.Routes) != 0 {
		t.Fatalf("empty store: %+v", empty)
	}

	digest := strings.Repeat("ab", 32)
	spec := specV1 + "routes:\n  - host: shop.localhost\n    service: web\n    auth: {api_keys: {keys: {" + digest + ": ci}}}\n"
	ts.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/apply", api.ApplyRequest{Spec: spec}, nil)
	// Nothing serves yet: no routes.
	var snap api.GatewaySnapshot
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/gateway/snapshot", nil, &snap)
	if snap.Revision != 1 || len(snap.Routes) != 0 {
		t.Fatalf("before release 1 serves: %+v", snap)
	}

	// What the reconciler would write once release 1 is ready.
	ctx := context.Background()
	a, err := ts.db.GetApp(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	a.Status = api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{
		Name: "web", Instances: []api.Instance{{ID: "web-1", Release: 1, Ready: true, Port: 9001}},
	}}}
	writeStatus(t, ts.db, a)
	status, body := ts.call(t, http.MethodGet, "/api/v1/gateway/snapshot", nil)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	// The answer is exactly the documented shape.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snap); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	want := []api.GatewayRoute{{
		ID: "shop/0", App: "shop", Service: "web", Host: "shop.localhost", Path: "/",
		Tracks: []api.GatewayTrack{{Name: "stable", Release: 1, Weight: 100,
			Endpoints: []api.GatewayEndpoint{{Addr: "127.0.0.1:9001", Instance: "web-1", Release: 1}}}},
		Policy: api.GatewayPolicy{Auth: &api.GatewayAuthPolicy{APIKeys: &api.GatewayAPIKeys{Header: "X-API-Key", Keys: map[string]string{digest: "ci"}}}},
	}}
	if snap.Revision != 2 || !reflect.DeepEqual(snap.Routes, want) {
		t.Fatalf("snapshot %s", body)
	}
}

// writeStatus stores a's status with its app.status event, in one
// transaction, as the reconciler does: the route feed compiles an app
// again only when an event names it.
func writeStatus(t *testing.T, db store.Store, a store.App) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx store.Tx) error {
		if _, err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: a.Name, Release: a.Status.Release, Time: time.Now().UTC()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
