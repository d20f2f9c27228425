package api

import (
	"sync"
	"time"

	"github.com/berthdev/berth/internal/identity/oidclogin"
)

// SSO logins in flight, kept in memory: a login started on one server
// finishes on the same one (a restart drops logins in progress; the user
// starts again). Entries are keyed by the sha256 of a random value the
// browser (or the CLI) holds, and taken out once.
const (
	pendingTTL  = 10 * time.Minute
	cliCodeTTL  = 2 * time.Minute
	maxPendings = 10_000
)

type ssoPending struct {
	login oidclogin.Pending
	// cliRedirect, cliChallenge and cliState are set when the CLI started
	// the login: the browser is sent back to the CLI's loopback listener
	// with a one-time code, redeemed with the PKCE verifier.
	cliRedirect  string
	cliChallenge string
	cliState     string
	created      time.Time
}

type cliCode struct {
	user      string
	challenge string
	created   time.Time
}

type pendingLogins struct {
	mu     sync.Mutex
	logins map[string]ssoPending
	codes  map[string]cliCode
}

func newPendingLogins() *pendingLogins {
	return &pendingLogins{logins: map[string]ssoPending{}, codes: map[string]cliCode{}}
}

func (p *pendingLogins) putLogin(key string, v ssoPending) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(v.created)
	if len(p.logins) >= maxPendings {
		return false
	}
	p.logins[key] = v
	return true
}

func (p *pendingLogins) takeLogin(key string, now time.Time) (ssoPending, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.logins[key]
	delete(p.logins, key)
	return v, ok && now.Sub(v.created) <= pendingTTL
}

func (p *pendingLogins) putCode(key string, v cliCode) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(v.created)
	if len(p.codes) >= maxPendings {
		return false
	}
	p.codes[key] = v
	return true
}

func (p *pendingLogins) takeCode(key string, now time.Time) (cliCode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.codes[key]
	delete(p.codes, key)
	return v, ok && now.Sub(v.created) <= cliCodeTTL
}

// prune drops expired entries; called with mu held, on writes only, so
// memory is bounded without a goroutine.
func (p *pendingLogins) prune(now time.Time) {
	for k, v := range p.logins {
		if now.Sub(v.created) > pendingTTL {
			delete(p.logins, k)
		}
	}
	for k, v := range p.codes {
		if now.Sub(v.created) > cliCodeTTL {
			delete(p.codes, k)
		}
	}
}
