package snapshot

// ServerState lists the tables that hold the running servers' shared
// state rather than the platform's (internal/store/serverstate.go): SSO
// logins in flight, with their PKCE verifiers, and failed-login counts,
// with emails and client addresses. Every backend leaves them out of a
// snapshot, so backups never carry them and a restored store starts
// without them, as a restarted server would.
var ServerState = []string{"sso_pending", "login_throttles"}
