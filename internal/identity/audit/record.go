// Package audit keeps Berth's audit log as a hash chain: each record's
// hash covers its fields and the previous record's hash, so changing,
// deleting or reordering stored records is detected by Verify.
//
// A chain proves order and integrity only against someone who cannot
// recompute it: whoever can write the table can also rewrite every hash
// after a change. Publish Head's hash somewhere the database's writers
// cannot reach (an exported log, a ticket, another system) to anchor it.
package audit

import (
	"strings"
	"time"
)

// Outcome is how the audited action ended.
type Outcome string

// The outcomes.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeDenied  Outcome = "denied"  // refused by authorization
	OutcomeFailure Outcome = "failure" // allowed, but failed
)

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	return o == OutcomeSuccess || o == OutcomeDenied || o == OutcomeFailure
}

// Record is one audit event.
type Record struct {
	Seq       int64     // 1, 2, 3...; set by Append
	Time      time.Time // UTC, microseconds (what PostgreSQL keeps)
	Actor     string    // user or token ID, never a token
	Team      string    // team ID; "" for platform-wide actions
	Action    string    // e.g. "app.deploy", "secret.set", "member.add"
	Object    string    // e.g. "app/shop", "secret/shop/DB_PASSWORD"
	SourceIP  string
	RequestID string
	Outcome   Outcome
	// Details are extra facts as strings. Append moves the value of any
	// detail whose name looks sensitive (see Sensitive) out of the record
	// and lists the name in Redacted; callers still mask known secret
	// values (secrets.Masker) before building Details.
	Details map[string]string
	// Redacted names the details whose values were withheld, sorted.
	Redacted []string
	PrevHash string // hex sha256 of the previous record; zeros for the first
	Hash     string // hex sha256 of this record's canonical encoding
}

// GenesisHash is the PrevHash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// sensitiveWords are the name parts that mark a detail as secret-bearing.
// Matching whole parts ("db_password" has "password") keeps names such as
// "keyring" or "valuation" from tripping it by accident.
var sensitiveWords = map[string]bool{
	"password": true, "passwd": true, "passphrase": true, "secret": true,
	"token": true, "value": true, "credential": true, "credentials": true,
	"private": true, "apikey": true, "authorization": true, "cookie": true,
	"plaintext": true,
}

// Sensitive reports whether a detail named name must not keep its value.
func Sensitive(name string) bool {
	for _, part := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == '_' || r == '-' || r == '.' || r == ' '
	}) {
		if sensitiveWords[part] {
			return true
		}
	}
	return false
}
