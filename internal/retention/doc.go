// Package retention deletes what the platform no longer needs to keep:
// pipeline artifacts past their retention (expire.go), and blobs nothing
// refers to (collect.go, with the one list of what refers to blobs in
// refs.go). The leader runs both on a timer (sweeper.go).
package retention
