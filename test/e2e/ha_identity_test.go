package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/oidctest"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/pkg/api"
)

// Identity across replicas: what one server starts or counts, another
// finishes or enforces, because the state is in the shared database.

const ssoCallbackPath = "/api/v1/auth/oidc/callback"

// balancer is the load balancer in front of the replicas: one address
// (the SSO redirect URI is registered on it), and a routing table the
// test sets per path, so it decides which replica finishes what.
type balancer struct {
	URL string
	mu  sync.Mutex
	to  map[string]*server // path -> replica
}

func startBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{URL: "http://" + ln.Addr().String(), to: map[string]*server{}}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		b.mu.Lock()
		s := b.to[pr.In.URL.Path]
		b.mu.Unlock()
		target, _ := url.Parse("http://" + s.api)
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // the server checks the callback against the public address
	}}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	return b
}

func (b *balancer) route(path string, s *server) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.to[path] = s
}

// startSSOCluster runs n replicas with SSO against a real OpenID provider
// whose registered redirect URI is the balancer's.
func startSSOCluster(t *testing.T, n int) (*cluster, *balancer, *oidctest.Provider) {
	t.Helper()
	lb := startBalancer(t)
	p := oidctest.Start(t, nil, lb.URL+ssoCallbackPath)
	secret := filepath.Join(t.TempDir(), "oidc-secret")
	if err := os.WriteFile(secret, []byte(oidctest.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dataDir: t.TempDir(), db: pgtest.URL(t)}
	t.Cleanup(c.cleanup)
	for range n {
		c.replicas = append(c.replicas, startServer(t, c.dataDir, freeAddr(t), "", "--database", c.db, "--lease-duration", haLease,
			"--oidc-issuer", p.Issuer, "--oidc-client-id", oidctest.ClientID, "--oidc-client-secret-file", secret,
			"--oidc-redirect-url", lb.URL+ssoCallbackPath))
	}
	return c, lb, p
}

// stopAt is a cookie-keeping browser that does not follow a redirect to
// a URL starting with prefix ("" follows every redirect); the last such
// URL is in *stopped.
func stopAt(prefix string, stopped *string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if prefix != "" && strings.HasPrefix(req.URL.String(), prefix) {
			*stopped = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

func getWithCookie(t *testing.T, rawURL, cookie string) (int, []byte, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	req.AddCookie(&http.Cookie{Name: "berth_sso", Value: cookie})
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp
}

// whoami asks s who the caller is, with the credential auth adds, and
// returns the status.
func whoami(t *testing.T, s *server, auth func(*http.Request)) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.api+"/api/v1/whoami", nil)
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHASSOLoginAcrossReplicas: a console SSO login begun on replica A
// finishes on replica B; replaying its callback is refused on both.
func TestHASSOLoginAcrossReplicas(t *testing.T) {
	c, lb, p := startSSOCluster(t, 2)
	a, b := c.replicas[0], c.replicas[1]
	lb.route("/api/v1/auth/oidc/start", a)
	lb.route(ssoCallbackPath, b)

	var callback string
	browser := stopAt(lb.URL+ssoCallbackPath, &callback)
	p.SignIn(t, browser, lb.URL+"/api/v1/auth/oidc/start")
	if callback == "" {
		t.Fatal("the provider did not send the browser to the callback")
	}
	u, _ := url.Parse(lb.URL + "/api/v1/auth/oidc/")
	var pending string
	for _, ck := range browser.Jar.Cookies(u) {
		if ck.Name == "berth_sso" {
			pending = ck.Value
		}
	}
	if pending == "" {
		t.Fatal("replica A set no pending-login cookie")
	}
	status, body, resp := getWithCookie(t, callback, pending)
	if status != http.StatusOK {
		t.Fatalf("callback on replica B: %d %s\nreplica A log:\n%s\nreplica B log:\n%s", status, body, a.log, b.log)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal(body, &lr); err != nil || lr.CSRFToken == "" || !lr.User.SSO {
		t.Fatalf("login answer %s (%v)", body, err)
	}
	var session string
	for _, ck := range resp.Cookies() {
		if ck.Name == "berth_session" {
			session = ck.Value
		}
	}
	// The session works on the other replica too.
	if st := whoami(t, a, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "berth_session", Value: session}) }); st != http.StatusOK {
		t.Fatalf("whoami on replica A with the session from B: %d", st)
	}
	// A replay is refused wherever it lands.
	for _, s := range []*server{a, b} {
		lb.route(ssoCallbackPath, s)
		status, body, _ := getWithCookie(t, callback, pending)
		if status != http.StatusBadRequest || !strings.Contains(string(body), "used already") {
			t.Fatalf("replayed callback on %s: %d %s", s.api, status, body)
		}
	}
}

// TestHASSOForTheCLIAcrossReplicas: `berth login --sso`'s flow with the
// login started on A, the provider's callback on B, and the one-time
// code redeemed on A; the code is refused the second time, on B.
func TestHASSOForTheCLIAcrossReplicas(t *testing.T) {
	c, lb, p := startSSOCluster(t, 2)
	a, b := c.replicas[0], c.replicas[1]
	lb.route("/api/v1/auth/oidc/start", a)
	lb.route(ssoCallbackPath, b)

	codes := make(chan url.Values, 1)
	cli := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query()
		_, _ = io.WriteString(w, "you may close this window")
	}))
	t.Cleanup(cli.Close)
	verifier := "a-verifier-of-enough-length-0123456789-abcdefghijk"
	sum := sha256.Sum256([]byte(verifier))
	start := lb.URL + "/api/v1/auth/oidc/start?" + url.Values{"cli_redirect": {cli.URL + "/callback"},
		"cli_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "cli_state": {"s1"}}.Encode()
	resp, body := p.SignIn(t, stopAt("", nil), start)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CLI SSO: %s %s\nreplica B log:\n%s", resp.Status, body, b.log)
	}
	var q url.Values
	select {
	case q = <-codes:
	default:
		t.Fatal("the CLI's listener got no code")
	}
	if q.Get("state") != "s1" || q.Get("code") == "" {
		t.Fatalf("CLI callback query %v", q)
	}
	exchange := func(s *server) (int, []byte) {
		j, _ := json.Marshal(api.CLIExchangeRequest{Code: q.Get("code"), Verifier: verifier})
		resp, err := http.Post("http://"+s.api+"/api/v1/auth/cli/exchange", "application/json", bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, tb := exchange(a)
	if status != http.StatusCreated {
		t.Fatalf("exchange on replica A of a code made on B: %d %s", status, tb)
	}
	var tok api.Token
	if err := json.Unmarshal(tb, &tok); err != nil || tok.Token == "" {
		t.Fatalf("exchange answer %s (%v)", tb, err)
	}
	if status, body := exchange(b); status != http.StatusBadRequest {
		t.Fatalf("the code redeemed again, on B: %d %s", status, body)
	}
	if st := whoami(t, b, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.Token) }); st != http.StatusOK {
		t.Fatalf("whoami on B with the CLI's token: %d", st)
	}
}

// TestHALoginThrottleShared: wrong passwords spread over two replicas
// count as one; once the pair is locked out, the other replica refuses
// even the right password with 429 and Retry-After.
func TestHALoginThrottleShared(t *testing.T) {
	c := startCluster(t, 2)
	a, b := c.replicas[0], c.replicas[1]
	const email, pw = "ann@example.com", "a long and right passphrase 42"
	j, _ := json.Marshal(api.CreateUserRequest{Email: email, Password: pw})
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.api+"/api/v1/users", bytes.NewReader(j))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create user: %s %s", resp.Status, body)
	}
	login := func(s *server, password string) *http.Response {
		j, _ := json.Marshal(api.LoginRequest{Email: email, Password: password})
		resp, err := http.Post("http://"+s.api+"/api/v1/auth/login", "application/json", bytes.NewReader(j))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// The default limit is 5 failures: four spread over both replicas...
	for i, s := range []*server{a, b, a, b} {
		if resp := login(s, "guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d on %s: %s", i+1, s.api, resp.Status)
		}
	}
	// ...and the fifth locks the pair out, on whichever replica.
	if resp := login(a, "guess"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fifth guess on A: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	resp = login(b, pw)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the right password on B during the lockout: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	t.Logf("replica B refuses with Retry-After %ss after failures counted on both", resp.Header.Get("Retry-After"))
}
