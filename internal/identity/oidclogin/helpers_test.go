package oidclogin

import (
	"errors"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

var oauth2HTTPClient = oauth2.HTTPClient

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func mustQuery(t *testing.T, rawURL, key string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query().Get(key)
	if v == "" {
		t.Fatalf("%s has no %s", rawURL, key)
	}
	return v
}
