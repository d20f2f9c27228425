// Package identity is the root of Berth's identity and tenancy code: who a
// caller is and what it may do in which team.
//
// The work is split into small packages, each one idea, none of which
// touches the store or HTTP routing (the API wires them in):
//
//   - password: argon2id hashing in PHC strings, policy, rehash detection.
//   - token: API tokens (berth_pat_, berth_tt_) with an offline checksum,
//     stored as sha256 plus the last four characters.
//   - rbac: roles, permissions, token scopes and Authorize (404 versus 403).
//   - audit: the hash-chained audit log and its verifier.
//   - secrets: AES-256-GCM envelopes bound to their row, master-key loading,
//     key rotation and log masking.
//   - oidclogin: SSO by OpenID Connect (authorization code + PKCE).
//   - loginlimit: per (account, IP) login throttling with exponential lockout.
//
// docs/identity.md is the operator and integrator reference.
package identity
