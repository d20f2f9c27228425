// Package pipeline holds the CI/CD pipeline definition (.berth/pipeline.yaml):
// its types, strict parsing with field paths and line numbers, validation,
// and the rules that decide whether a step applies to a trigger (when).
//
// The sibling packages do the rest and do not depend on the server:
//
//	sched     which steps run now, are skipped or blocked (pure logic)
//	executor  the Executor interface; executor/local runs steps as processes
//	mask      a writer that hides secret values in step logs
//	gitsrc    clones a repository at an exact commit, lists changed paths
//	webhook   verifies and parses GitHub, Gitea and GitLab webhooks
//	cron      the schedule expressions of `schedule:`
//
// docs/pipelines.md is the user's reference for the file format.
package pipeline
