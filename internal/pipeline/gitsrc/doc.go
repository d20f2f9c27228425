// Package gitsrc fetches a run's source: one exact commit of a Git
// repository, shallow where the server allows, into the run's workspace,
// and the paths changed between two commits for `when.paths`.
//
// It uses go-git, so no git binary is run and no repository hook, config
// or filter of the fetched repository executes on the server. Submodules
// and Git LFS objects are not fetched.
package gitsrc
