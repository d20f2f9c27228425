package backup

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrFormat means the file is not a Berth backup, or is corrupt or
	// truncated; nothing was written.
	ErrFormat = errors.New("backup: not a valid berth backup")
	// ErrNotEmpty means the store to restore into holds data already.
	ErrNotEmpty = errors.New("backup: the store to restore into is not empty")
	// ErrTooNew means the backup comes from a newer Berth than this one.
	ErrTooNew = errors.New("backup: made by a newer berth")
	// ErrMasterKey means the backup's sealed data (secrets, cluster
	// credentials) does not open with the master key given, or none was
	// given.
	ErrMasterKey = errors.New("backup: sealed data does not open with the master key")
	// ErrClusterMap means a --map-cluster mapping names an unknown cluster
	// or leaves a reference to a cluster the restored store would lack.
	ErrClusterMap = errors.New("backup: cluster mapping")
)
