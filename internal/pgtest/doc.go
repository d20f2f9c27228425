// Package pgtest gives tests a real PostgreSQL server and a fresh, empty
// database on it.
//
// URL(t) creates a database with a unique name for the calling test and
// drops it when the test ends. The server comes from, in order:
//
//  1. BERTH_TEST_POSTGRES_URL, a URL whose user may create databases;
//  2. the server on 127.0.0.1:5432 (trust authentication, user postgres),
//     if it answers;
//  3. a private server started from Debian's binaries
//     (/usr/lib/postgresql/*/bin/initdb and postgres) on a temporary
//     directory and a free loopback port, once per test binary, run as the
//     postgres user when the tests run as root (postgres refuses root).
//
// Without any of them the test is skipped with a message saying what to
// install or set; under CI (CI=true) it fails instead, so that CI never
// passes without running against PostgreSQL.
//
// A package whose tests may start the private server calls Main from its
// TestMain, so the server is stopped and its directory removed when the
// tests end. Without it the server still dies with the test binary (its
// parent-death signal), but the directory is left in the temp dir.
package pgtest
