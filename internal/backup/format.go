// Package backup writes and restores portable snapshots of all platform
// state: every table of the store, read in one transaction, and the source
// archives releases refer to. A backup taken from SQLite restores into
// PostgreSQL and the other way round, and one taken at an older schema
// restores into a newer Berth.
package backup

import (
	"time"

	"github.com/berthdev/berth/internal/store/snapshot"
)

// The file format: a gzip stream of records, each a JSON line; a blob
// record is followed by its raw bytes and a newline. In order:
//
//	{"header": Header}
//	{"table": Table}  then  {"r": [values...]}*  then  {"end": {"table": name, "rows": N}}   per table
//	{"sequences": {"events.revision": N, ...}}
//	{"blob": {"digest": "sha256:...", "size": N}} + N bytes + "\n"   per source archive
//	{"trailer": Trailer}
//
// Row values follow the table's column kinds: int as a JSON number, text
// as a string, blob as base64, null as null. The trailer holds the sha256
// of every byte before it, so a truncated or altered file is refused
// before anything is written.

// FormatName and FormatVersion identify the file; a reader refuses a
// version newer than it knows.
const (
	FormatName    = "berth-backup"
	FormatVersion = 1
)

// Header opens a backup and says what it holds.
type Header struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	SchemaVersion int       `json:"schema_version"`
	Backend       string    `json:"backend"`
	CreatedAt     time.Time `json:"created_at"`
	// MasterKeyID is the fingerprint of the server's master key when the
	// backup was taken online (the key itself is never in a backup);
	// offline backups leave it empty. Trailer.SealedKeyIDs lists the keys
	// the sealed data actually needs.
	MasterKeyID   string `json:"master_key_id,omitempty"`
	ServerVersion string `json:"server_version,omitempty"`
}

// Trailer closes a backup.
type Trailer struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	Blobs  int   `json:"blobs"`
	// MissingBlobs counts blobs the tables refer to (source archives of
	// releases, artifact archives of runs) that the blob store lacked:
	// those releases cannot be rebuilt, those artifacts not downloaded.
	MissingBlobs int `json:"missing_blobs,omitempty"`
	// SealedKeyIDs are the master key IDs the secrets were sealed with.
	SealedKeyIDs []string `json:"sealed_key_ids"`
	// SHA256 is the hex digest of the uncompressed bytes before the
	// trailer line.
	SHA256 string `json:"sha256"`
}

type tableEnd struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

type blobHeader struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// record is one line; exactly one field is set.
type record struct {
	Header    *Header           `json:"header,omitempty"`
	Table     *snapshot.Table   `json:"table,omitempty"`
	Row       []any             `json:"r,omitempty"`
	End       *tableEnd         `json:"end,omitempty"`
	Sequences *map[string]int64 `json:"sequences,omitempty"`
	Blob      *blobHeader       `json:"blob,omitempty"`
	Trailer   *Trailer          `json:"trailer,omitempty"`
}
