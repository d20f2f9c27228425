package deploy

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

func TestMaskStatus(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-canary"
	m := secrets.NewMasker(secret)
	st := api.AppStatus{
		Message:    "release 2 failed: last output: pw=" + secret,
		Conditions: []api.Condition{{Type: api.ConditionFailed, Message: "said " + secret}},
		Services: []api.ServiceStatus{{
			Name:       "web",
			Conditions: []api.Condition{{Message: secret}},
			Instances: []api.Instance{{
				ID: "web-1", Message: "exited: " + secret,
				LastExit: &api.Exit{Code: 1, LogTail: []string{"ok", "password " + secret}},
			}},
		}},
	}
	orig := st.Services[0].Instances[0].LastExit.LogTail[1]
	got := maskStatus(m, st)
	if s := strings.Join([]string{got.Message, got.Conditions[0].Message, got.Services[0].Conditions[0].Message,
		got.Services[0].Instances[0].Message, strings.Join(got.Services[0].Instances[0].LastExit.LogTail, "|")}, "\n"); strings.Contains(s, secret) || strings.Count(s, secrets.Mask) != 5 {
		t.Errorf("masked status still shows the secret or lost text:\n%s", s)
	}
	if st.Services[0].Instances[0].LastExit.LogTail[1] != orig {
		t.Error("maskStatus changed its input")
	}
	if got := maskStatus(nil, st); got.Message != st.Message {
		t.Error("a nil masker changed the status")
	}
}

func TestMaskLogs(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-canary"
	r := maskingReconciler(t, fixedSecrets{secret})
	src := io.NopCloser(strings.NewReader("web-1 | start\nweb-1 | pw=" + secret + "\nweb-1 | no newline " + secret))
	rc := r.maskLogs(t.Context(), "shop", src)
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	want := "web-1 | start\nweb-1 | pw=***\nweb-1 | no newline ***"
	if string(b) != want {
		t.Errorf("masked logs = %q, want %q", b, want)
	}
}

// maskingReconciler is a Reconciler over sec, an empty SQLite store and a
// fake runtime: enough to build maskers of an app it does not know.
func maskingReconciler(t *testing.T, sec Secrets) *Reconciler {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Reconciler{opts: Options{Secrets: sec}, store: db, rt: newFakeRuntime(), log: slog.New(slog.DiscardHandler)}
}

type fixedSecrets []string

func (f fixedSecrets) ResolveVersions(_ context.Context, _, _ string, names []string, _ map[string]int64) (map[string]string, error) {
	return nil, nil
}

func (f fixedSecrets) ValuesWith(context.Context, string, map[string][]int64) ([]string, error) {
	return f, nil
}

// changingSecrets is a store whose values change under the reconciler.
type changingSecrets struct{ vals *[]string }

func (c changingSecrets) ResolveVersions(_ context.Context, _, _ string, names []string, _ map[string]int64) (map[string]string, error) {
	return map[string]string{names[0]: (*c.vals)[0]}, nil
}

func (c changingSecrets) ValuesWith(context.Context, string, map[string][]int64) ([]string, error) {
	return *c.vals, nil
}

// The masker is cached, and built again once a workload received values.
func TestMaskerRefreshedWhenValuesAreHandedOut(t *testing.T) {
	t.Parallel()
	vals := []string{"first-value"}
	r := maskingReconciler(t, changingSecrets{&vals})
	if got := r.masker(t.Context(), "shop").Mask("x first-value"); got != "x ***" {
		t.Fatalf("first masker: %q", got)
	}
	vals = []string{"second-value"}
	if got := r.masker(t.Context(), "shop").Mask("x second-value"); got != "x second-value" {
		t.Errorf("the cached masker was rebuilt without a reason: %q", got)
	}
	p := &pass{r: r, app: store.App{Name: "shop"}}
	if _, err := p.secretsOf(t.Context(), newRelease(store.Release{App: "shop", Number: 1}), []string{"A"}); err != nil {
		t.Fatal(err)
	}
	if got := r.masker(t.Context(), "shop").Mask("x second-value"); got != "x ***" {
		t.Errorf("after values were handed out the masker is stale: %q", got)
	}
}

// blockingSecrets answers Values with what the store held when the call
// began, once release is closed: a masker being built while a secret is
// changed.
type blockingSecrets struct {
	mu      sync.Mutex
	vals    []string
	started chan struct{}
	release chan struct{}
}

func (b *blockingSecrets) set(v string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.vals = []string{v}
}

func (b *blockingSecrets) ResolveVersions(_ context.Context, _, _ string, names []string, _ map[string]int64) (map[string]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return map[string]string{names[0]: b.vals[0]}, nil
}

func (b *blockingSecrets) ValuesWith(context.Context, string, map[string][]int64) ([]string, error) {
	b.mu.Lock()
	vals := append([]string(nil), b.vals...)
	b.mu.Unlock()
	select {
	case b.started <- struct{}{}:
	default:
	}
	<-b.release
	return vals, nil
}

// A masker built from the values read before a secret changed must not
// stay cached once a workload received the new value: the new value would
// then show unmasked in logs until the next workload is built.
func TestMaskerBuiltDuringSecretChangeIsNotKept(t *testing.T) {
	t.Parallel()
	sec := &blockingSecrets{vals: []string{"old-value"}, started: make(chan struct{}, 1), release: make(chan struct{})}
	r := maskingReconciler(t, sec)
	built := make(chan struct{})
	go func() {
		defer close(built)
		r.masker(context.Background(), "shop") // a log stream starts
	}()
	<-sec.started
	// Meanwhile the secret is set and a workload receives the new value.
	sec.set("new-value")
	handed := make(chan error, 1)
	go func() {
		p := &pass{r: r, app: store.App{Name: "shop"}}
		_, err := p.secretsOf(context.Background(), newRelease(store.Release{App: "shop", Number: 1}), []string{"A"})
		handed <- err
	}()
	// Let the hand-out finish first if it does not wait for the build.
	select {
	case err := <-handed:
		handed <- err
	case <-time.After(200 * time.Millisecond):
	}
	close(sec.release)
	<-built
	if err := <-handed; err != nil {
		t.Fatal(err)
	}
	if got := r.masker(t.Context(), "shop").Mask("pw=new-value"); got != "pw=***" {
		t.Errorf("after the new value was handed out, the cached masker shows it: %q", got)
	}
}

// partlyReadable is a store where one secret of the app does not open.
type partlyReadable struct{ readable string }

func (p partlyReadable) ResolveVersions(context.Context, string, string, []string, map[string]int64) (map[string]string, error) {
	return nil, nil
}

func (p partlyReadable) ValuesWith(context.Context, string, map[string][]int64) ([]string, error) {
	return []string{p.readable}, secrets.ErrDecrypt
}

// One unreadable secret does not unmask the app's other secrets.
func TestMaskerWithAnUnreadableSecret(t *testing.T) {
	t.Parallel()
	r := maskingReconciler(t, partlyReadable{"readable-canary"})
	if got := r.masker(t.Context(), "shop").Mask("pw=readable-canary"); got != "pw=***" {
		t.Errorf("masked = %q, want the readable secret masked", got)
	}
	if _, cached := r.maskers.Load("shop"); cached {
		t.Error("a masker missing an unreadable secret was cached; the next pass would not try again")
	}
}
