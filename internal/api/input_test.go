package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

// TestBadInput sends bad requests of every kind and checks each gets the
// one error shape, the right status and code, names the field at fault,
// and stores nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Deps) { d.MaxBodyBytes = 4096; d.MaxBlobBytes = 1024 })
	auth := "Bearer " + ts.token
	goodDigest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		desc    string
		method  string
		path    string
		body    string
		headers map[string]string
		status  int
		code    string
		fields  []string // detail fields expected, in order
		message string   // substring of the message
	}{
		{desc: "malformed JSON", method: "POST", path: "/api/v1/apply", body: `{"spec": "x"`,
			status: 400, code: api.CodeBadRequest, message: "ends before"},
		{desc: "JSON syntax error", method: "POST", path: "/api/v1/apply", body: `{"spec": x}`,
			status: 400, code: api.CodeBadRequest, message: "byte"},
		{desc: "unknown JSON field", method: "POST", path: "/api/v1/apply", body: `{"spec": "x", "sauce": "y"}`,
			status: 400, code: api.CodeBadRequest, fields: []string{"sauce"}, message: `unknown field "sauce"`},
		{desc: "wrong JSON type", method: "POST", path: "/api/v1/apply", body: `{"spec": 5}`,
			status: 400, code: api.CodeBadRequest, fields: []string{"spec"}, message: "expected a string"},
		{desc: "trailing data", method: "POST", path: "/api/v1/apply", body: `{"spec": "x"} {}`,
			status: 400, code: api.CodeBadRequest, message: "after the object"},
		{desc: "empty body", method: "POST", path: "/api/v1/apply", body: ``,
			status: 400, code: api.CodeBadRequest, message: "empty"},
		{desc: "not an object", method: "POST", path: "/api/v1/validate", body: `[1]`,
			status: 400, code: api.CodeBadRequest, message: "expected a JSON object"},
		{desc: "oversized body", method: "POST", path: "/api/v1/apply", body: `{"spec": "` + strings.Repeat("a", 5000) + `"}`,
			status: 413, code: api.CodeTooLarge, message: "4096"},
		{desc: "missing token", method: "GET", path: "/api/v1/apps", headers: map[string]string{"Authorization": ""},
			status: 401, code: api.CodeUnauthorized},
		{desc: "wrong token", method: "GET", path: "/api/v1/apps", headers: map[string]string{"Authorization": "Bearer berth_nope"},
			status: 401, code: api.CodeUnauthorized},
		{desc: "wrong scheme", method: "GET", path: "/api/v1/apps", headers: map[string]string{"Authorization": "Basic " + ts.token},
			status: 401, code: api.CodeUnauthorized},
		{desc: "token needed before body is read", method: "POST", path: "/api/v1/apply", body: `{"spec": "` + specV1 + `"}`,
			headers: map[string]string{"Authorization": ""}, status: 401, code: api.CodeUnauthorized},
		{desc: "empty spec", method: "POST", path: "/api/v1/apply", body: `{"spec": ""}`,
			status: 422, code: api.CodeInvalid, fields: []string{"spec"}},
		{desc: "invalid spec", method: "POST", path: "/api/v1/apply",
			body:   `{"spec": "name: Shop\nservices:\n  web:\n    command: 5\n    portz: [8080]\n"}`,
			status: 422, code: api.CodeInvalid, fields: []string{"name", "services.web.command", "services.web.portz"}, message: "3 problems"},
		{desc: "invalid spec on validate", method: "POST", path: "/api/v1/validate",
			body:   `{"spec": "name: shop\nservices:\n  web:\n    command: [x]\n    portz: [8080]\n"}`,
			status: 422, code: api.CodeInvalid, fields: []string{"services.web.portz"}},
		{desc: "YAML syntax error", method: "POST", path: "/api/v1/apply", body: `{"spec": "name: ["}`,
			status: 422, code: api.CodeInvalid, message: "1 problem"},
		{desc: "source not a digest", method: "POST", path: "/api/v1/apply", body: `{"spec": "name: shop\nservices:\n  web:\n    command: [x]\n", "source": "abc"}`,
			status: 422, code: api.CodeInvalid, fields: []string{"source"}},
		{desc: "source not uploaded", method: "POST", path: "/api/v1/apply", body: `{"spec": "name: shop\nservices:\n  web:\n    command: [x]\n", "source": "` + goodDigest + `"}`,
			status: 422, code: api.CodeInvalid, fields: []string{"source"}, message: "not uploaded"},
		{desc: "unknown app", method: "GET", path: "/api/v1/apps/nope",
			status: 404, code: api.CodeNotFound, message: `"nope"`},
		{desc: "unknown app releases", method: "GET", path: "/api/v1/apps/nope/releases",
			status: 404, code: api.CodeNotFound, message: `"nope"`},
		{desc: "unknown app delete", method: "DELETE", path: "/api/v1/apps/nope",
			status: 404, code: api.CodeNotFound, message: `"nope"`},
		{desc: "unknown app rollback", method: "POST", path: "/api/v1/apps/nope/rollback", body: `{"to": 1}`,
			status: 404, code: api.CodeNotFound, message: `"nope"`},
		{desc: "unknown app logs", method: "GET", path: "/api/v1/apps/nope/logs",
			status: 404, code: api.CodeNotFound, message: `"nope"`},
		{desc: "bad app name", method: "GET", path: "/api/v1/apps/Not_A_Label",
			status: 422, code: api.CodeInvalid, fields: []string{"app"}},
		{desc: "bad release number", method: "GET", path: "/api/v1/apps/shop/releases/x",
			status: 422, code: api.CodeInvalid, fields: []string{"release"}},
		{desc: "diff without from", method: "GET", path: "/api/v1/apps/shop/diff?to=2",
			status: 422, code: api.CodeInvalid, fields: []string{"from"}},
		{desc: "diff bad to", method: "GET", path: "/api/v1/apps/shop/diff?from=1&to=-1",
			status: 422, code: api.CodeInvalid, fields: []string{"to"}},
		{desc: "rollback negative", method: "POST", path: "/api/v1/apps/shop/rollback", body: `{"to": -1}`,
			status: 422, code: api.CodeInvalid, fields: []string{"to"}},
		{desc: "logs bad tail", method: "GET", path: "/api/v1/apps/shop/logs?tail=x",
			status: 422, code: api.CodeInvalid, fields: []string{"tail"}},
		{desc: "logs bad follow", method: "GET", path: "/api/v1/apps/shop/logs?follow=maybe",
			status: 422, code: api.CodeInvalid, fields: []string{"follow"}},
		{desc: "watch bad since", method: "GET", path: "/api/v1/watch?since=x",
			status: 422, code: api.CodeInvalid, fields: []string{"since"}},
		{desc: "watch bad Last-Event-ID", method: "GET", path: "/api/v1/watch", headers: map[string]string{"Last-Event-ID": "-3"},
			status: 422, code: api.CodeInvalid, fields: []string{"Last-Event-ID"}},
		{desc: "bad digest", method: "PUT", path: "/api/v1/blobs/md5:abc", body: "data",
			status: 422, code: api.CodeInvalid, fields: []string{"digest"}},
		{desc: "upper-case digest", method: "PUT", path: "/api/v1/blobs/sha256:" + strings.Repeat("AB", 32), body: "data",
			status: 422, code: api.CodeInvalid, fields: []string{"digest"}},
		{desc: "digest mismatch", method: "PUT", path: "/api/v1/blobs/" + goodDigest, body: "data",
			status: 422, code: api.CodeInvalid, fields: []string{"digest"}, message: "does not hash to"},
		{desc: "oversized blob", method: "PUT", path: "/api/v1/blobs/" + goodDigest, body: strings.Repeat("x", 2000),
			status: 413, code: api.CodeTooLarge},
		{desc: "unknown route", method: "GET", path: "/api/v1/nothing",
			status: 404, code: api.CodeNotFound, message: "no route"},
		{desc: "wrong method", method: "PUT", path: "/api/v1/apply",
			status: 405, code: api.CodeMethodNotAllowed, message: "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			headers := map[string]string{"Authorization": auth}
			for k, v := range tc.headers {
				headers[k] = v
			}
			var body any
			if tc.body != "" || tc.method == "POST" {
				body = tc.body
			}
			resp := ts.do(t, tc.method, tc.path, body, headers)
			defer resp.Body.Close()
			b := readAll(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			e := decodeError(t, b)
			if e.Code != tc.code {
				t.Errorf("code %q, want %q", e.Code, tc.code)
			}
			if e.RequestID != resp.Header.Get(RequestIDHeader) {
				t.Errorf("request id %q in body, %q in header", e.RequestID, resp.Header.Get(RequestIDHeader))
			}
			if !strings.Contains(e.Message, tc.message) {
				t.Errorf("message %q does not contain %q", e.Message, tc.message)
			}
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
			}
			if strings.Join(fields, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("detail fields %q, want %q (%s)", fields, tc.fields, b)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.status == 405 && resp.Header.Get("Allow") != "POST" {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: none of them may have stored anything.
		ctx := context.Background()
		apps, err := ts.db.ListApps(ctx)
		if err != nil || len(apps) != 0 {
			t.Errorf("apps after bad input: %v, %v", apps, err)
		}
		rev, err := ts.db.LastRevision(ctx)
		if err != nil || rev != 0 {
			t.Errorf("events after bad input: revision %d, %v", rev, err)
		}
		status, b := ts.call(t, "GET", "/api/v1/apps", nil)
		if status != http.StatusOK || strings.TrimSpace(string(b)) != "[]" {
			t.Errorf("GET /api/v1/apps after bad input: %d %s", status, b)
		}
	})
}

func TestInvalidSpecDetailsHaveLines(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	status, b := ts.call(t, "POST", "/api/v1/validate", api.ApplyRequest{Spec: "name: shop\nservices:\n  web:\n    command: [x]\n    portz: [8080]\n"})
	if status != 422 {
		t.Fatalf("status %d: %s", status, b)
	}
	e := decodeError(t, b)
	if len(e.Details) != 1 || e.Details[0].Field != "services.web.portz" || e.Details[0].Line != 5 {
		t.Fatalf("details %+v, want services.web.portz at line 5", e.Details)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	tests := []struct {
		desc, sent string
		echoed     bool
	}{
		{desc: "echoed", sent: "abc-123", echoed: true},
		{desc: "generated when absent", sent: ""},
		{desc: "replaced when unsafe", sent: "bad id\twith spaces"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			resp := ts.do(t, "GET", "/healthz", nil, map[string]string{RequestIDHeader: tc.sent})
			resp.Body.Close()
			got := resp.Header.Get(RequestIDHeader)
			if got == "" || (got == tc.sent) != tc.echoed {
				t.Fatalf("X-Request-ID %q for %q", got, tc.sent)
			}
		})
	}
}

func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	for _, path := range []string{"/healthz", "/api/v1/openapi.json"} {
		resp := ts.do(t, "GET", path, nil, nil)
		b := readAll(t, resp)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s without token: %d %s", path, resp.StatusCode, b)
		}
	}
	var v api.Version
	ts.mustCall(t, 200, "GET", "/api/v1/version", nil, &v)
	if v.Version != "v0.0.0-test" {
		t.Errorf("version %+v", v)
	}
}
