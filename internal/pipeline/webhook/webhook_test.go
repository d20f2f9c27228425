package webhook

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/berthdev/berth/internal/pipeline"
)

var secret = []byte("It's a Secret to Everybody")

// hook is a real HTTP server in front of Handler that records the events
// it starts runs for.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []*Event
}

func newHook(t *testing.T, forge Forge, maxBody int64) *hook {
	t.Helper()
	h := &hook{}
	rc := &Receiver{Forge: forge, Secret: secret, MaxBody: maxBody, Seen: NewMemorySeen(100)}
	h.srv = httptest.NewServer(Handler(slog.New(slog.DiscardHandler), rc, func(_ context.Context, ev *Event) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.events = append(h.events, ev)
		return nil
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) got() []*Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Event(nil), h.events...)
}

var deliveries atomic.Int64

// send posts body as forge would, with the given event kind, signing it
// with key (no signature when key is nil), under delivery id (a fresh one
// when empty). It returns the status.
func (h *hook) send(t *testing.T, forge Forge, kind string, body []byte, key []byte, id string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(eventHeader[forge], kind)
	if id == "" {
		id = "delivery-" + strconv.FormatInt(deliveries.Add(1), 10)
	}
	req.Header.Set(deliveryHeader[forge], id)
	if key != nil {
		name, value := Sign(forge, key, body)
		req.Header.Set(name, value)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func payload(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParsedEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, file, kind string
		forge            Forge
		want             Event
	}{
		{
			desc: "github push", forge: GitHub, kind: "push", file: "github_push.json",
			want: Event{Forge: GitHub, Kind: pipeline.EventPush, Repo: "team/shop", CloneURL: "https://github.com/team/shop.git",
				Ref: "refs/heads/main", Branch: "main", Commit: strings.Repeat("2", 40), Before: strings.Repeat("1", 40),
				ChangedPaths: []string{"api/main.go", "api/orders.go", "web/old.html"}, Sender: "ann"},
		},
		{
			desc: "github tag", forge: GitHub, kind: "push", file: "github_tag.json",
			want: Event{Forge: GitHub, Kind: pipeline.EventTag, Repo: "team/shop", CloneURL: "https://github.com/team/shop.git",
				Ref: "refs/tags/v1.4.2", Tag: "v1.4.2", Commit: strings.Repeat("2", 40), Sender: "ann"},
		},
		{
			desc: "github pull request from a fork", forge: GitHub, kind: "pull_request", file: "github_pull.json",
			want: Event{Forge: GitHub, Kind: pipeline.EventPullRequest, Repo: "team/shop", CloneURL: "https://github.com/team/shop.git",
				Ref: "refs/pull/42/head", Branch: "main", Commit: strings.Repeat("4", 40), Before: strings.Repeat("2", 40), Sender: "bob",
				PullRequest: &PullRequest{Number: 42, Action: "synchronize", HeadBranch: "fast-checkout", HeadRepo: "bob/shop", FromFork: true}},
		},
		{
			desc: "gitea push", forge: Gitea, kind: "push", file: "gitea_push.json",
			want: Event{Forge: Gitea, Kind: pipeline.EventPush, Repo: "team/shop", CloneURL: "https://gitea.example.com/team/shop.git",
				Ref: "refs/heads/release/1.4", Branch: "release/1.4", Commit: strings.Repeat("5", 40), Before: strings.Repeat("1", 40),
				ChangedPaths: []string{"web/cart.ts", "web/round.ts"}, Sender: "ann"},
		},
		{
			desc: "gitea pull request", forge: Gitea, kind: "pull_request", file: "gitea_pull.json",
			want: Event{Forge: Gitea, Kind: pipeline.EventPullRequest, Repo: "team/shop", CloneURL: "https://gitea.example.com/team/shop.git",
				Ref: "refs/pull/9/head", Branch: "main", Commit: strings.Repeat("6", 40), Before: strings.Repeat("5", 40), Sender: "ann",
				PullRequest: &PullRequest{Number: 9, Action: "opened", HeadBranch: "coupons", HeadRepo: "team/shop"}},
		},
		{
			desc: "gitlab push with a truncated commit list", forge: GitLab, kind: "Push Hook", file: "gitlab_push.json",
			want: Event{Forge: GitLab, Kind: pipeline.EventPush, Repo: "team/shop", CloneURL: "https://gitlab.example.com/team/shop.git",
				Ref: "refs/heads/main", Branch: "main", Commit: strings.Repeat("7", 40), Before: strings.Repeat("1", 40), Sender: "ann"},
		},
		{
			desc: "gitlab tag", forge: GitLab, kind: "Tag Push Hook", file: "gitlab_tag.json",
			want: Event{Forge: GitLab, Kind: pipeline.EventTag, Repo: "team/shop", CloneURL: "https://gitlab.example.com/team/shop.git",
				Ref: "refs/tags/v2.0.0", Tag: "v2.0.0", Commit: strings.Repeat("7", 40), Sender: "ann"},
		},
		{
			desc: "gitlab merge request from a fork", forge: GitLab, kind: "Merge Request Hook", file: "gitlab_mr.json",
			want: Event{Forge: GitLab, Kind: pipeline.EventPullRequest, Repo: "team/shop", CloneURL: "https://gitlab.example.com/team/shop.git",
				Ref: "refs/merge-requests/12/head", Branch: "main", Commit: strings.Repeat("9", 40), Sender: "bob",
				PullRequest: &PullRequest{Number: 12, Action: "update", HeadBranch: "coupons", HeadRepo: "bob/shop", FromFork: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, tt.forge, 0)
			if code := h.send(t, tt.forge, tt.kind, payload(t, tt.file), secret, "id-1"); code != http.StatusAccepted {
				t.Fatalf("status = %d, want 202", code)
			}
			evs := h.got()
			if len(evs) != 1 {
				t.Fatalf("events = %d, want 1", len(evs))
			}
			got := *evs[0]
			tt.want.DeliveryID = "id-1"
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("event\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	body := payload(t, "github_push.json")
	tests := []struct {
		desc  string
		forge Forge
		send  func(t *testing.T, h *hook) int
		want  int
	}{
		{desc: "github no signature", forge: GitHub, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int { return h.send(t, GitHub, "push", body, nil, "") }},
		{desc: "github wrong secret", forge: GitHub, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int { return h.send(t, GitHub, "push", body, []byte("guess"), "") }},
		{desc: "github body changed after signing", forge: GitHub, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int {
				req, _ := http.NewRequest(http.MethodPost, h.srv.URL, bytes.NewReader(bytes.Replace(body, []byte("main"), []byte("prod"), 1)))
				name, value := Sign(GitHub, secret, body)
				req.Header.Set(name, value)
				req.Header.Set("X-GitHub-Event", "push")
				req.Header.Set("X-GitHub-Delivery", "x")
				resp, err := h.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}},
		{desc: "gitea wrong signature", forge: Gitea, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int { return h.send(t, Gitea, "push", body, []byte("guess"), "") }},
		{desc: "gitlab wrong token", forge: GitLab, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int { return h.send(t, GitLab, "Push Hook", body, []byte("guess"), "") }},
		{desc: "gitlab no token", forge: GitLab, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int { return h.send(t, GitLab, "Push Hook", body, nil, "") }},
		{desc: "replay", forge: GitHub, want: http.StatusConflict,
			send: func(t *testing.T, h *hook) int {
				if code := h.send(t, GitHub, "push", body, secret, "same"); code != http.StatusAccepted {
					t.Fatalf("first delivery: %d", code)
				}
				return h.send(t, GitHub, "push", body, secret, "same")
			}},
		{desc: "a bad signature does not use up the delivery ID", forge: GitHub, want: http.StatusAccepted,
			send: func(t *testing.T, h *hook) int {
				if code := h.send(t, GitHub, "push", body, []byte("guess"), "d1"); code != http.StatusUnauthorized {
					t.Fatalf("forged delivery: %d", code)
				}
				return h.send(t, GitHub, "push", body, secret, "d1")
			}},
		{desc: "oversized", forge: GitHub, want: http.StatusRequestEntityTooLarge,
			send: func(t *testing.T, h *hook) int {
				big := append(bytes.TrimSuffix(bytes.TrimSpace(body), []byte("}")), []byte(`,"pad":"`+strings.Repeat("x", 70_000)+`"}`)...)
				return h.send(t, GitHub, "push", big, secret, "")
			}},
		{desc: "oversized without a length", forge: GitHub, want: http.StatusRequestEntityTooLarge,
			send: func(t *testing.T, h *hook) int {
				req, _ := http.NewRequest(http.MethodPost, h.srv.URL, struct{ *strings.Reader }{strings.NewReader(strings.Repeat("x", 70_000))})
				req.ContentLength = -1 // chunked
				resp, err := h.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}},
		{desc: "missing delivery id", forge: Gitea, want: http.StatusBadRequest,
			send: func(t *testing.T, h *hook) int {
				req, _ := http.NewRequest(http.MethodPost, h.srv.URL, bytes.NewReader(body))
				name, value := Sign(Gitea, secret, body)
				req.Header.Set(name, value)
				req.Header.Set("X-Gitea-Event", "push")
				resp, err := h.srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}},
		// Verified before parsed: garbage with a wrong signature is refused
		// for the signature (401), not read as a bad payload (400).
		{desc: "garbage with a wrong signature", forge: GitHub, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int {
				return h.send(t, GitHub, "push", []byte("{not json"), []byte("guess"), "")
			}},
		{desc: "gitlab garbage with a wrong token", forge: GitLab, want: http.StatusUnauthorized,
			send: func(t *testing.T, h *hook) int {
				return h.send(t, GitLab, "Push Hook", []byte("{not json"), []byte("guess"), "")
			}},
		{desc: "signed garbage", forge: GitHub, want: http.StatusBadRequest,
			send: func(t *testing.T, h *hook) int { return h.send(t, GitHub, "push", []byte("{not json"), secret, "") }},
		{desc: "ping is ignored", forge: GitHub, want: http.StatusAccepted,
			send: func(t *testing.T, h *hook) int { return h.send(t, GitHub, "ping", []byte(`{"zen":"x"}`), secret, "") }},
		{desc: "GET", forge: GitHub, want: http.StatusMethodNotAllowed,
			send: func(t *testing.T, h *hook) int {
				resp, err := h.srv.Client().Get(h.srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, tt.forge, 64<<10)
			if got := tt.send(t, h); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestIgnoredEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, kind, body string
		forge            Forge
	}{
		{desc: "github branch deleted", forge: GitHub, kind: "push", body: `{"ref":"refs/heads/x","before":"` + strings.Repeat("1", 40) + `","after":"` + strings.Repeat("0", 40) + `","deleted":true}`},
		{desc: "github pull request closed", forge: GitHub, kind: "pull_request", body: `{"action":"closed","number":1}`},
		{desc: "gitea issue comment", forge: Gitea, kind: "issue_comment", body: `{}`},
		{desc: "gitlab mr title edit", forge: GitLab, kind: "Merge Request Hook", body: `{"object_kind":"merge_request","object_attributes":{"iid":1,"action":"update"}}`},
		{desc: "gitlab pipeline event", forge: GitLab, kind: "Pipeline Hook", body: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			h := newHook(t, tt.forge, 0)
			if code := h.send(t, tt.forge, tt.kind, []byte(tt.body), secret, ""); code != http.StatusAccepted {
				t.Errorf("status = %d, want 202", code)
			}
			if evs := h.got(); len(evs) != 0 {
				t.Errorf("started a run for an ignored event: %+v", evs[0])
			}
		})
	}
}

func TestGitHubFormEncoded(t *testing.T) {
	t.Parallel()
	rc := &Receiver{Forge: GitHub, Secret: secret, Seen: NewMemorySeen(10)}
	form := []byte("payload=" + url.QueryEscape(string(payload(t, "github_tag.json"))))
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "f1")
	name, value := Sign(GitHub, secret, form)
	req.Header.Set(name, value)
	ev, err := rc.Receive(t.Context(), req)
	if err != nil || ev.Tag != "v1.4.2" {
		t.Errorf("Receive = %+v, %v", ev, err)
	}
}

func TestReceiverNeedsSecret(t *testing.T) {
	t.Parallel()
	rc := &Receiver{Forge: GitLab, Seen: NewMemorySeen(10)}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	req.Header.Set("X-Gitlab-Token", "")
	if _, err := rc.Receive(t.Context(), req); err == nil || StatusCode(err) != http.StatusInternalServerError {
		t.Errorf("a receiver without a secret: %v", err)
	}
}

func TestMemorySeen(t *testing.T) {
	t.Parallel()
	m := NewMemorySeen(2)
	ctx := t.Context()
	check := func(id string, want bool) {
		t.Helper()
		if got, err := m.Seen(ctx, id); err != nil || got != want {
			t.Errorf("Seen(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
	check("a", false)
	check("b", false)
	check("a", true) // a is now the most recent
	check("c", false)
	check("b", false) // evicted as least recent
	check("a", false) // evicted by b
}

func TestStatusCode(t *testing.T) {
	t.Parallel()
	if StatusCode(errors.New("x")) != 500 || StatusCode(nil) != 202 {
		t.Error("StatusCode")
	}
}

func TestTrigger(t *testing.T) {
	t.Parallel()
	ev := &Event{Kind: pipeline.EventPush, Branch: "main", ChangedPaths: []string{"a"}}
	tr := ev.Trigger()
	if tr.Event != pipeline.EventPush || tr.Branch != "main" || len(tr.ChangedPaths) != 1 {
		t.Errorf("Trigger = %+v", tr)
	}
}
