// Package apitest runs the berth CLI against the real API handler
// (internal/api on a SQLite store, served by httptest). It is a package of
// its own so the CLI's unit tests do not depend on the server's packages.
// The reconciler is not part of it: the test plays that role by writing
// release states to the store, as the reconciler does.
package apitest
