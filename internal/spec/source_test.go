package spec

import (
	"errors"
	"testing"
)

func TestSourceInvalid(t *testing.T) {
	t.Parallel()
	src := func(fields string) string { return svc("    image: x\nsource: {" + fields + "}\n") }
	tests := []struct {
		desc string
		yaml string
		want []want
	}{
		{"pipeline starts with -", src("git: https://h/r.git, pipeline: -x.yaml"), []want{{"source.pipeline", "must not start with '-'"}}},
		{"pipeline escapes", src("git: https://h/r.git, pipeline: ../up.yaml"), []want{{"source.pipeline", "inside the repository"}}},
		{"pipeline escapes after cleaning", src("git: https://h/r.git, pipeline: ci/../../up.yaml"), []want{{"source.pipeline", "inside the repository"}}},
		{"pipeline absolute", src("git: https://h/r.git, pipeline: /etc/x.yaml"), []want{{"source.pipeline", "relative to the repository's root"}}},
		{"pipeline is the root", src("git: https://h/r.git, pipeline: ./"), []want{{"source.pipeline", "inside the repository"}}},
		{"pipeline in .git", src("git: https://h/r.git, pipeline: .git/config.yaml"), []want{{"source.pipeline", "inside .git"}}},
		{"pipeline not yaml", src("git: https://h/r.git, pipeline: ci/pipeline.json"), []want{{"source.pipeline", ".yaml or .yml"}}},
		{"pipeline backslash", src(`git: https://h/r.git, pipeline: 'ci\p.yaml'`), []want{{"source.pipeline", "'/'"}}},
		{"pipeline control character", src(`git: https://h/r.git, pipeline: "ci/\tp.yaml"`), []want{{"source.pipeline", "control characters"}}},
		{"secret not a name", src("git: https://h/r.git, secret: git-token"), []want{{"source.secret", "not a secret name"}}},
		{"username without secret", src("git: https://h/r.git, username: oauth2"), []want{{"source.username", "goes with source.secret"}}},
		{"username with ssh", src("git: 'ssh://git@h/r.git', secret: KEY, known_hosts: 'h ssh-ed25519 AAAA', username: x"), []want{{"source.username", "for http(s) URLs"}}},
		{"username with colon", src("git: https://h/r.git, secret: T, username: 'a:b'"), []want{{"source.username", "':'"}}},
		{"known_hosts with https", src("git: https://h/r.git, known_hosts: 'h ssh-ed25519 AAAA'"), []want{{"source.known_hosts", "ssh URLs only"}}},
		{"ssh key without known_hosts", src("git: 'git@h:team/r.git', secret: KEY"), []want{{"source.known_hosts", "is required"}}},
		{"ssh without key", src("git: 'ssh://git@h/r.git'"), []want{{"source.secret", "is required with an ssh URL"}}},
		{"status of an unknown forge", src("git: https://h/r.git, secret: T, status: bitbucket"), []want{{"source.status", "expected one of github, gitea, gitlab"}}},
		{"status without a token", src("git: https://h/r.git, status: gitea"), []want{{"source.status", "needs source.secret"}}},
		{"status with an ssh key", src("git: 'git@h:t/r.git', secret: K, known_hosts: 'h ssh-ed25519 AAAA', status: gitea"), []want{{"source.status", "use an https URL"}}},
		{"status_url alone", src("git: https://h/r.git, status_url: 'https://h/api/v1'"), []want{{"source.status_url", "goes with source.status"}}},
		{"status_url not http", src("git: https://h/r.git, secret: T, status: gitea, status_url: 'ftp://h/api'"), []want{{"source.status_url", "not an http(s) URL"}}},
		{"status_url with credentials", src("git: https://h/r.git, secret: T, status: gitea, status_url: 'https://u:p@h/api'"), []want{{"source.status_url", "not an http(s) URL"}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.yaml))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse: %v; want a *ValidationError", err)
			}
			assertProblems(t, ve.Problems, tt.want)
		})
	}
}

func TestSourceValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, fields, pipeline string
	}{
		{"default pipeline path", "git: https://h/r.git", DefaultPipelineFile},
		{"override", "git: https://h/r.git, pipeline: ci/berth.yaml", "ci/berth.yaml"},
		{"override is cleaned", "git: https://h/r.git, pipeline: ./ci//x/../berth.yml", "ci/berth.yml"},
		{"token", "git: https://h/r.git, secret: GIT_TOKEN, username: oauth2", DefaultPipelineFile},
		{"ssh key", "git: 'git@h:team/r.git', secret: DEPLOY_KEY, known_hosts: 'h ssh-ed25519 AAAA'", DefaultPipelineFile},
		{"status", "git: https://h/r.git, secret: T, status: gitlab, status_url: 'https://h/api/v4'", DefaultPipelineFile},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			a, err := Parse([]byte(svc("    image: x\nsource: {" + tt.fields + "}\n")))
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Source.PipelinePath(); got != tt.pipeline {
				t.Errorf("PipelinePath() = %q, want %q", got, tt.pipeline)
			}
		})
	}
}
