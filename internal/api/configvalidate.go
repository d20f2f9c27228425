package api

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
)

// Limits of config sets and secrets. A config set is injected into every
// instance's environment, so it stays far below what an exec accepts.
const (
	maxConfigKeyLen    = 128
	maxConfigValueLen  = 32 << 10
	maxConfigEntries   = 500
	maxConfigFiles     = 50
	maxConfigFileBytes = 256 << 10
	maxConfigFileName  = 128
	maxCommentLen      = 1024
	maxSecretValueLen  = 64 << 10
	// maxConfigEnvBytes bounds all entries together ("KEY=value\0" each):
	// Linux refuses an exec whose arguments and environment pass 2 MiB (a
	// quarter of the default 8 MiB stack), and the instance also gets its
	// spec's env and its secrets. 500 entries of 32 KiB would be 16 MiB.
	maxConfigEnvBytes = 512 << 10
)

var (
	envNameRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	fileNameRE   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	configEnvRE  = appNameRE
	errNoChanges = "nothing to change: give set, unset, files or remove_files"
)

// configEnvParam is the env query parameter: a DNS label, default "default".
func configEnvParam(r *http.Request) (string, error) {
	env := r.URL.Query().Get("env")
	return checkConfigEnv("env", env)
}

func checkConfigEnv(field, env string) (string, error) {
	if env == "" {
		return api.DefaultConfigEnv, nil
	}
	if !configEnvRE.MatchString(env) {
		return "", invalidField(field, "%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", env)
	}
	return env, nil
}

// varNameProblem says what is wrong with a variable name ("" when nothing).
func varNameProblem(name string) string {
	switch {
	case name == "":
		return "a name must not be empty"
	case len(name) > maxConfigKeyLen:
		return fmt.Sprintf("a name is at most %d characters, got %d", maxConfigKeyLen, len(name))
	case !envNameRE.MatchString(name):
		return fmt.Sprintf("%q is not a variable name (letters, digits and '_', not starting with a digit)", name)
	case name == spec.EnvPort:
		return "PORT is reserved: Berth sets it to the port the instance must listen on"
	case strings.HasPrefix(name, spec.ReservedEnvPrefix):
		return "names starting with BERTH_ are reserved for variables Berth sets"
	}
	return ""
}

// field joins a map field and a key into a path; an empty key is named
// as such, so the path still says where the problem is.
func field(parent, key string) string {
	if key == "" {
		return parent + `[""]`
	}
	return parent + "." + key
}

// validateConfigUpdate checks every part of u and reports every problem.
func validateConfigUpdate(u *api.ConfigUpdate) error {
	var details []api.FieldError
	add := func(f, format string, args ...any) {
		details = append(details, api.FieldError{Field: f, Message: fmt.Sprintf(format, args...)})
	}
	if _, err := checkConfigEnv("env", u.Env); err != nil {
		add("env", "%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", u.Env)
	}
	if len(u.Set) == 0 && len(u.Unset) == 0 && len(u.Files) == 0 && len(u.RemoveFiles) == 0 {
		add("set", "%s", errNoChanges)
	}
	for k, v := range u.Set {
		f := field("set", k)
		if msg := varNameProblem(k); msg != "" {
			add(f, "%s", msg)
			continue
		}
		switch {
		case len(v) > maxConfigValueLen:
			add(f, "value is %d bytes; at most %d (use a file for larger content)", len(v), maxConfigValueLen)
		case strings.ContainsRune(v, 0):
			add(f, "value must not contain NUL characters")
		}
	}
	for i, k := range u.Unset {
		f := fmt.Sprintf("unset[%d]", i)
		if msg := varNameProblem(k); msg != "" {
			add(f, "%s", msg)
		} else if _, both := u.Set[k]; both {
			add(f, "%s is also in set", k)
		}
	}
	for name, content := range u.Files {
		f := field("files", name)
		if msg := fileNameProblem(name); msg != "" {
			add(f, "%s", msg)
			continue
		}
		if len(content) > maxConfigFileBytes {
			add(f, "file is %d bytes; at most %d", len(content), maxConfigFileBytes)
		}
	}
	for i, name := range u.RemoveFiles {
		f := fmt.Sprintf("remove_files[%d]", i)
		if msg := fileNameProblem(name); msg != "" {
			add(f, "%s", msg)
		} else if _, both := u.Files[name]; both {
			add(f, "%s is also in files", name)
		}
	}
	if len(u.Comment) > maxCommentLen || !utf8.ValidString(u.Comment) {
		add("comment", "at most %d bytes of UTF-8", maxCommentLen)
	}
	return fieldErrors(details)
}

func fileNameProblem(name string) string {
	switch {
	case name == "":
		return "a file name must not be empty"
	case len(name) > maxConfigFileName:
		return fmt.Sprintf("a file name is at most %d characters, got %d", maxConfigFileName, len(name))
	case name == "." || name == ".." || !fileNameRE.MatchString(name):
		return fmt.Sprintf("%q is not a file name (letters, digits, '.', '_' and '-', not starting with '.' or '-')", name)
	}
	return ""
}

// fieldErrors is the 422 for several field problems, sorted by field so
// the answer is stable; nil when there are none.
func fieldErrors(details []api.FieldError) error {
	if len(details) == 0 {
		return nil
	}
	sortFieldErrors(details)
	msg := details[0].Field + ": " + details[0].Message
	if len(details) > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", len(details)-1)
	}
	return newError(http.StatusUnprocessableEntity, api.CodeInvalid, "%s", msg).withDetails(details...)
}

func sortFieldErrors(d []api.FieldError) {
	slices.SortStableFunc(d, func(a, b api.FieldError) int { return strings.Compare(a.Field, b.Field) })
}

// checkSecretValue checks a secret's value without ever quoting it.
func checkSecretValue(v string) error {
	switch {
	case v == "":
		return invalidField("value", "must not be empty")
	case len(v) > maxSecretValueLen:
		return invalidField("value", "is %d bytes; at most %d", len(v), maxSecretValueLen)
	case strings.ContainsRune(v, 0):
		return invalidField("value", "must not contain NUL characters (it becomes an environment variable)")
	}
	return nil
}
