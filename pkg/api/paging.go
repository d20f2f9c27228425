package api

// Paging of GET /api/v1/apps: ?limit=N&after=CURSOR. The body stays a
// JSON array of apps (as before paging); when more apps follow, the
// answer carries the cursor of the next page in the NextCursorHeader
// header, and a Link header (RFC 8288, rel="next") with the next page's
// URL.
const (
	// NextCursorHeader carries the opaque cursor to pass as ?after= for
	// the next page; absent on the last page.
	NextCursorHeader = "X-Next-Cursor"
	// DefaultPageLimit is the page size when ?limit is not given, and
	// MaxPageLimit the largest allowed.
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)
