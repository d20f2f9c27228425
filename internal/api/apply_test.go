package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

func TestApplyCreatesReleasesOnlyOnChange(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	var r1, again, r2 api.ApplyResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, &r1)
	if r1 != (api.ApplyResponse{App: "shop", Release: 1, Created: true, Revision: 1}) {
		t.Fatalf("first apply: %+v", r1)
	}
	// The same spec in another layout (JSON, reordered) is the same release.
	sameAsJSON := `{"services": {"web": {"ports": [8080], "command": ["./web"]}}, "name": "shop"}`
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: sameAsJSON}, &again)
	if again != (api.ApplyResponse{App: "shop", Release: 1, Created: false, Revision: 1}) {
		t.Fatalf("identical apply: %+v", again)
	}
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV2}, &r2)
	if r2 != (api.ApplyResponse{App: "shop", Release: 2, Created: true, Revision: 2}) {
		t.Fatalf("changed apply: %+v", r2)
	}

	var app api.App
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop", nil, &app)
	if app.Name != "shop" || app.LatestRelease != 2 || app.TargetRelease != 2 || app.Status.Phase != api.PhasePending {
		t.Errorf("app %+v", app)
	}
	if app.CreatedAt.IsZero() || !app.UpdatedAt.After(app.CreatedAt) {
		t.Errorf("timestamps from Deps.Now: created %v updated %v", app.CreatedAt, app.UpdatedAt)
	}
	var apps []api.App
	ts.mustCall(t, 200, "GET", "/api/v1/apps", nil, &apps)
	if len(apps) != 1 || apps[0].Name != "shop" {
		t.Errorf("apps %+v", apps)
	}

	var rels []api.Release
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/releases", nil, &rels)
	if len(rels) != 2 || rels[0].Number != 1 || rels[1].Number != 2 {
		t.Fatalf("releases %+v", rels)
	}
	for _, rel := range rels {
		if rel.State != api.ReleasePending || rel.Cause != "apply" || rel.App != "shop" {
			t.Errorf("release %d: %+v", rel.Number, rel)
		}
		var canonical bytes.Buffer // responses are indented; the hash is of compact JSON
		if err := json.Compact(&canonical, rel.Spec); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(append(canonical.Bytes(), '\n'))
		if rel.SpecHash != hex.EncodeToString(sum[:]) {
			t.Errorf("release %d: spec hash %s is not sha256(spec + \"\\n\" + source)", rel.Number, rel.SpecHash)
		}
	}
	var spec2 struct {
		Services map[string]struct{ Replicas int } `json:"services"`
	}
	if err := json.Unmarshal(rels[1].Spec, &spec2); err != nil || spec2.Services["web"].Replicas != 2 {
		t.Errorf("release 2 spec %s: %v", rels[1].Spec, err)
	}

	events, err := ts.db.ListEvents(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Kind != api.EventAppApplied || events[0].Release != 1 || events[1].Release != 2 {
		t.Errorf("events %+v", events)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if strings.Join(ts.notified, ",") != "shop,shop,shop" {
		t.Errorf("notified %q", ts.notified)
	}
}

func TestApplyWithSource(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	content := "a source archive"
	sum := sha256.Sum256([]byte(content))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	ts.mustCall(t, 204, "PUT", "/api/v1/blobs/"+digest, content, nil)
	ts.mustCall(t, 204, "PUT", "/api/v1/blobs/"+digest, content, nil) // twice is harmless
	if ok, _ := ts.blobs.Has(t.Context(), digest); !ok {
		t.Fatal("blob not stored")
	}
	var r1, r2, r3 api.ApplyResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, &r1)
	// The same spec with source code is new content: a new release.
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1, Source: digest}, &r2)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1, Source: digest}, &r3)
	if !r2.Created || r2.Release != 2 || r3.Created || r3.Release != 2 {
		t.Fatalf("applies: %+v %+v", r2, r3)
	}
	var rel api.Release
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/releases/2", nil, &rel)
	if rel.Source != digest {
		t.Errorf("release source %q", rel.Source)
	}
}

// markState plays the reconciler: it sets a release's state in the store.
func markState(t *testing.T, ts *testServer, n int, state string) {
	t.Helper()
	ctx := context.Background()
	rel, err := ts.db.GetRelease(ctx, "shop", n)
	if err != nil {
		t.Fatal(err)
	}
	rel.State = state
	if _, err := ts.db.UpdateRelease(ctx, rel); err != nil {
		t.Fatal(err)
	}
}

func TestRollback(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	// No deployed release before the target yet: nothing to roll back to.
	status, b := ts.call(t, "POST", "/api/v1/apps/shop/rollback", api.RollbackRequest{})
	if status != 422 || decodeError(t, b).Details[0].Field != "to" {
		t.Fatalf("rollback with no earlier release: %d %s", status, b)
	}
	markState(t, ts, 1, api.ReleaseSuperseded)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV2}, nil)
	markState(t, ts, 2, api.ReleaseFailed)

	var rb api.ApplyResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollback", api.RollbackRequest{}, &rb)
	if rb != (api.ApplyResponse{App: "shop", Release: 3, Created: true, Revision: 3}) {
		t.Fatalf("rollback: %+v", rb)
	}
	var r1, r3 api.Release
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/releases/1", nil, &r1)
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/releases/3", nil, &r3)
	if string(r3.Spec) != string(r1.Spec) || r3.SpecHash != r1.SpecHash || r3.Source != r1.Source {
		t.Errorf("release 3 does not copy release 1:\n%s\n%s", r3.Spec, r1.Spec)
	}
	if r3.Cause != "rollback" || r3.RollbackOf != 1 || r3.State != api.ReleasePending {
		t.Errorf("release 3: %+v", r3)
	}
	var app api.App
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop", nil, &app)
	if app.TargetRelease != 3 || app.LatestRelease != 3 {
		t.Errorf("app after rollback: %+v", app)
	}
	// Applying release 1's spec now matches the target: no new release.
	var again api.ApplyResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, &again)
	if again.Created || again.Release != 3 {
		t.Errorf("apply of the rolled-back spec: %+v", again)
	}

	// Explicit targets.
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollback", api.RollbackRequest{To: 2}, &rb)
	if rb.Release != 4 {
		t.Errorf("rollback to 2: %+v", rb)
	}
	status, b = ts.call(t, "POST", "/api/v1/apps/shop/rollback", api.RollbackRequest{To: 9})
	if status != 404 || !strings.Contains(decodeError(t, b).Message, "release 9") {
		t.Errorf("rollback to a missing release: %d %s", status, b)
	}
	status, b = ts.call(t, "POST", "/api/v1/apps/shop/rollback", api.RollbackRequest{To: 4})
	if status != 422 {
		t.Errorf("rollback to the target: %d %s", status, b)
	}
	events, _ := ts.db.ListEvents(context.Background(), 0, 100)
	if len(events) != 4 {
		t.Errorf("want 4 events (2 applies, 2 rollbacks), got %+v", events)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV2}, nil)
	var d api.DiffResponse
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/diff?from=1&to=2", nil, &d)
	want := `--- shop release 1
+++ shop release 2
@@ -3,10 +3,11 @@
   web:
     command:
     - ./web
+    - --fast
     ports:
     - port: 8080
       protocol: http
-    replicas: 1
+    replicas: 2
     resources: {}
     stop_grace_period: 10s
 strategy:
`
	if d.App != "shop" || d.From != 1 || d.To != 2 || d.Diff != want {
		t.Errorf("diff:\n%s\nwant:\n%s", d.Diff, want)
	}
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/diff?from=2&to=2", nil, &d)
	if d.Diff != "" {
		t.Errorf("diff of a release with itself: %q", d.Diff)
	}
	status, b := ts.call(t, "GET", "/api/v1/apps/shop/diff?from=1&to=7", nil)
	if status != 404 || !strings.Contains(decodeError(t, b).Message, "release 7") {
		t.Errorf("diff with a missing release: %d %s", status, b)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	var app api.App
	ts.mustCall(t, 202, "DELETE", "/api/v1/apps/shop", nil, &app)
	if app.Status.Phase != api.PhaseDeleting {
		t.Errorf("deleted app: %+v", app)
	}
	ts.mustCall(t, 202, "DELETE", "/api/v1/apps/shop", nil, nil) // again: still accepted
	stored, err := ts.db.GetApp(context.Background(), "shop")
	if err != nil || !stored.Deleting {
		t.Fatalf("stored app %+v, %v", stored, err)
	}
	for _, call := range []struct{ method, path string }{
		{"POST", "/api/v1/apply"},
		{"POST", "/api/v1/apps/shop/rollback"},
	} {
		body := any(api.ApplyRequest{Spec: specV2})
		if strings.HasSuffix(call.path, "rollback") {
			body = api.RollbackRequest{To: 1}
		}
		status, b := ts.call(t, call.method, call.path, body)
		if status != 409 || decodeError(t, b).Code != api.CodeConflict {
			t.Errorf("%s %s on a deleting app: %d %s", call.method, call.path, status, b)
		}
	}
	events, _ := ts.db.ListEvents(context.Background(), 0, 100)
	if len(events) != 2 || events[1].Kind != api.EventAppStatus {
		t.Errorf("events: %+v", events)
	}
}

// TestConcurrentApplies: racing applies of different specs each get their
// own release number, and the app's latest release is the highest.
func TestConcurrentApplies(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	const n = 5
	results := make(chan api.ApplyResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spec := fmt.Sprintf("name: shop\nservices:\n  web:\n    command: [./web, \"%d\"]\n", i)
			var r api.ApplyResponse
			status, b := ts.call(t, "POST", "/api/v1/apply", api.ApplyRequest{Spec: spec})
			if status != 200 || json.Unmarshal(b, &r) != nil {
				t.Errorf("apply %d: %d %s", i, status, b)
			}
			results <- r
		}()
	}
	wg.Wait()
	close(results)
	seen := map[int]bool{}
	for r := range results {
		if !r.Created || seen[r.Release] {
			t.Errorf("result %+v (seen %v)", r, seen)
		}
		seen[r.Release] = true
	}
	var app api.App
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop", nil, &app)
	if app.LatestRelease != n || app.TargetRelease != n || len(seen) != n {
		t.Errorf("app %+v after %d applies; releases %v", app, n, seen)
	}
}
