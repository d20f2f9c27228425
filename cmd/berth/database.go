package main

import (
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/server"
)

// databaseURL resolves --database: the flag, else $BERTH_DATABASE, else ""
// (SQLite in the data dir). A malformed URL is bad input (exit 2), with
// the password hidden. The flag's default stays empty in --help, so help
// never prints $BERTH_DATABASE and its password.
func databaseURL(flag string, getenv func(string) string) (string, error) {
	if flag == "" {
		flag = getenv("BERTH_DATABASE")
	}
	if flag == "" {
		return "", nil
	}
	if err := server.CheckDatabase(flag); err != nil {
		return "", cli.BadInput(err)
	}
	return flag, nil
}
