package pipeline

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/pipeline/cron"
	"github.com/berthdev/berth/internal/spec"
)

// Limits checked by validation.
const (
	MaxSteps           = 200
	MaxRetry           = 10
	MaxStepTimeout     = 24 * time.Hour
	MaxApprovalTimeout = 30 * 24 * time.Hour
)

var (
	stepNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	envNamePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	labelPattern    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// ReservedEnvPrefix starts the variables Berth sets for steps itself
// (BERTH_RUN_ID, BERTH_COMMIT...); a file may not set them.
const ReservedEnvPrefix = "BERTH_"

// Roles an approval may name (the team roles of identity).
var Roles = []string{"owner", "admin", "developer", "viewer"}

// validator collects the rule violations of a pipeline with defaults set.
type validator struct {
	problems []spec.Problem
	// dec, for a pipeline read from YAML, gives lines and the paths that
	// failed to decode (not checked again).
	dec *spec.Decoded
}

func (v *validator) add(path, format string, args ...any) {
	line := 0
	if v.dec != nil {
		if v.dec.IsFailed(path) {
			return
		}
		line = v.dec.LineOf(path)
	}
	v.problems = append(v.problems, spec.Problem{Path: path, Message: fmt.Sprintf(format, args...), Line: line})
}

func (v *validator) pipeline(p *Pipeline) {
	v.on(p)
	v.schedule(p)
	v.params(p.Params)
	v.executor(p.Executor)
	if len(p.Steps) == 0 {
		v.add("steps", "at least one step is required")
	}
	if len(p.Steps) > MaxSteps {
		v.add("steps", "%d steps; at most %d are allowed", len(p.Steps), MaxSteps)
		return
	}
	names := v.stepNames(p.Steps)
	for i := range p.Steps {
		v.step(p, index("steps", i), &p.Steps[i], names)
	}
	v.cycles(p)
}

func (v *validator) on(p *Pipeline) {
	if len(p.On) == 0 {
		v.add("on", "at least one event is required; expected a list of: %s", eventList())
		return
	}
	v.events("on", p.On)
}

func (v *validator) events(path string, evs []Event) {
	seen := map[Event]bool{}
	for i, e := range evs {
		ip := index(path, i)
		switch {
		case !slices.Contains(Events, e):
			if s := suggest(string(e), eventStrings()); s != "" {
				v.add(ip, "unknown event %q; did you mean %q?", e, s)
			} else {
				v.add(ip, "unknown event %q; expected one of: %s", e, eventList())
			}
		case seen[e]:
			v.add(ip, "event %q is listed twice", e)
		}
		seen[e] = true
	}
}

func (v *validator) schedule(p *Pipeline) {
	scheduled := slices.Contains(p.On, EventSchedule)
	switch {
	case scheduled && p.Schedule == "":
		v.add("schedule", `required when on lists schedule; expected a cron expression like "0 3 * * *"`)
	case !scheduled && p.Schedule != "":
		v.add("schedule", "set, but on does not list schedule; add schedule to on or remove this")
	case p.Schedule != "":
		if _, err := cron.Parse(p.Schedule); err != nil {
			v.add("schedule", "%s", strings.TrimPrefix(err.Error(), cron.ErrInvalid.Error()+": "))
		}
	}
}

func (v *validator) params(ps []Param) {
	seen := map[string]int{}
	for i, prm := range ps {
		pp := index("params", i)
		if msg := envNameProblem(prm.Name); msg != "" {
			v.add(join(pp, "name"), "%s", msg)
		} else if first, dup := seen[prm.Name]; dup {
			v.add(join(pp, "name"), "param %q is declared twice (first at params[%d])", prm.Name, first)
		} else {
			seen[prm.Name] = i
		}
		if prm.Required && prm.Default != "" {
			v.add(join(pp, "required"), "a required param has no default; remove required or default")
		}
	}
}

// stepNames checks names and returns the index of each good one.
func (v *validator) stepNames(steps []Step) map[string]int {
	names := map[string]int{}
	for i, s := range steps {
		np := join(index("steps", i), "name")
		switch {
		case s.Name == "":
			v.add(np, "required; every step needs a name")
		case !stepNamePattern.MatchString(s.Name):
			v.add(np, "%q is not a valid step name; expected letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63 characters", s.Name)
		default:
			if first, dup := names[s.Name]; dup {
				v.add(np, "duplicate step name %q (first at steps[%d])", s.Name, first)
				continue
			}
			names[s.Name] = i
		}
	}
	return names
}

func (v *validator) step(p *Pipeline, sp string, s *Step, names map[string]int) {
	v.kind(sp, s)
	kind := s.Kind()
	if kind != KindRun && kind != "" {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"image", s.Image != ""}, {"env", len(s.Env) > 0}, {"secrets", len(s.Secrets) > 0},
			{"artifacts", len(s.Artifacts) > 0}, {"cache", s.Cache != nil},
		} {
			if f.set {
				v.add(join(sp, f.name), "only run steps use %s; this is a %s step", f.name, kind)
			}
		}
	}
	v.env(sp, s)
	v.when(p, join(sp, "when"), s.When)
	v.needs(join(sp, "needs"), s, names)
	switch {
	case s.Timeout < 0:
		v.add(join(sp, "timeout"), "must not be negative")
	case s.Timeout.D() > MaxStepTimeout:
		v.add(join(sp, "timeout"), "%s is longer than the limit of %s", s.Timeout, MaxStepTimeout)
	case kind == KindApproval && s.Timeout != 0:
		v.add(join(sp, "timeout"), "an approval step times out by approval.timeout; move it there")
	}
	if s.Retry < 0 || s.Retry > MaxRetry {
		v.add(join(sp, "retry"), "%d is out of range; expected 0 to %d extra attempts", s.Retry, MaxRetry)
	} else if s.Retry > 0 && kind == KindApproval {
		v.add(join(sp, "retry"), "an approval step cannot be retried")
	}
	for i, a := range s.Artifacts {
		if msg := relPathProblem(a, false); msg != "" {
			v.add(index(join(sp, "artifacts"), i), "%s", msg)
		}
	}
	v.cache(join(sp, "cache"), s.Cache)
	v.deploy(join(sp, "deploy"), s.Deploy)
	v.approval(join(sp, "approval"), s.Approval)
	v.notify(join(sp, "notify"), s.Notify)
}

func (v *validator) kind(sp string, s *Step) {
	var set []string
	if s.Run != "" {
		set = append(set, "run")
	}
	if s.Deploy != nil {
		set = append(set, "deploy")
	}
	if s.Approval != nil {
		set = append(set, "approval")
	}
	if s.Notify != nil {
		set = append(set, "notify")
	}
	switch len(set) {
	case 0:
		if v.dec != nil && v.dec.IsFailed(join(sp, "run")) {
			return // "run: [..]" was already reported as a type error
		}
		v.add(sp, "a step needs exactly one of run, deploy, approval or notify; it has none")
	case 1:
	default:
		v.add(sp, "a step does exactly one thing, but this one sets %s; split it into steps joined by needs", strings.Join(set, " and "))
	}
}

// env checks the step's variable names and the secrets it asks for.
func (v *validator) env(sp string, s *Step) {
	for _, k := range sortedKeys(s.Env) {
		if msg := envNameProblem(k); msg != "" {
			v.add(join(join(sp, "env"), k), "%s", msg)
		}
	}
	seen := map[string]bool{}
	for i, name := range s.Secrets {
		ip := index(join(sp, "secrets"), i)
		switch msg := envNameProblem(name); {
		case msg != "":
			v.add(ip, "%s", msg)
		case seen[name]:
			v.add(ip, "secret %q is listed twice", name)
		case hasKey(s.Env, name):
			v.add(ip, "secret %q has the name of a variable in env; a secret is set as the variable of its name, so rename one", name)
		}
		seen[name] = true
	}
}

func (v *validator) needs(path string, s *Step, names map[string]int) {
	seen := map[string]bool{}
	for i, n := range s.Needs {
		ip := index(path, i)
		_, known := names[n]
		switch {
		case n == s.Name && n != "":
			v.add(ip, "a step cannot need itself")
		case !known:
			cands := make([]string, 0, len(names))
			for name := range names {
				cands = append(cands, name)
			}
			slices.Sort(cands)
			if sg := suggest(n, cands); sg != "" {
				v.add(ip, "unknown step %q; did you mean %q?", n, sg)
			} else {
				v.add(ip, "unknown step %q", n)
			}
		case seen[n]:
			v.add(ip, "step %q is listed twice", n)
		}
		seen[n] = true
	}
}

func (v *validator) when(p *Pipeline, path string, w *When) {
	if w == nil {
		return
	}
	lists := []struct {
		name  string
		items []string
	}{{"branches", w.Branches}, {"tags", w.Tags}, {"paths", w.Paths}}
	for _, l := range lists {
		lp := join(path, l.name)
		if l.items != nil && len(l.items) == 0 {
			v.add(lp, "an empty list matches nothing; remove it to match everything")
		}
		for i, pat := range l.items {
			if l.name == "paths" {
				pat = strings.TrimPrefix(pat, "!")
			}
			if _, err := CompileGlob(pat); err != nil {
				v.add(index(lp, i), "bad glob pattern %q: %v", l.items[i], err)
			}
		}
	}
	if len(w.Paths) > 0 && allNegative(w.Paths) {
		v.add(join(path, "paths"), `only exclusions ("!..."); add a pattern to include, such as "**"`)
	}
	ep := join(path, "events")
	if w.Events != nil && len(w.Events) == 0 {
		v.add(ep, "an empty list matches nothing; remove it to match every event")
	}
	v.events(ep, w.Events)
	for i, e := range w.Events {
		if slices.Contains(Events, e) && len(p.On) > 0 && !slices.Contains(p.On, e) {
			v.add(index(ep, i), "the pipeline is not started by %q (see on), so this never matches", e)
		}
	}
}

func (v *validator) cache(path string, c *Cache) {
	if c == nil {
		return
	}
	if c.Key == "" {
		v.add(join(path, "key"), `required; e.g. "go-{{ hash \"go.sum\" }}"`)
	} else if err := CheckCacheKey(c.Key); err != nil {
		v.add(join(path, "key"), "%v", err)
	}
	if len(c.Paths) == 0 {
		v.add(join(path, "paths"), "at least one path is required")
	}
	for i, p := range c.Paths {
		if msg := relPathProblem(p, true); msg != "" {
			v.add(index(join(path, "paths"), i), "%s", msg)
		}
	}
}

func (v *validator) executor(e *Executor) {
	switch {
	case e == nil:
	case e.Env == "":
		v.add("executor.env", "required; the environment whose cluster runs the steps, e.g. ci (or %s for the server's machine)", LocalEnv)
	case !labelPattern.MatchString(e.Env):
		v.add("executor.env", "%q is not a valid environment name; expected lowercase letters, digits and '-'", e.Env)
	}
}

func (v *validator) deploy(path string, d *Deploy) {
	if d == nil {
		return
	}
	if d.Env == "" {
		v.add(join(path, "env"), "required; the environment to deploy to, e.g. prod")
	} else if !labelPattern.MatchString(d.Env) {
		v.add(join(path, "env"), "%q is not a valid environment name; expected lowercase letters, digits and '-'", d.Env)
	}
	if d.App != "" && !labelPattern.MatchString(d.App) {
		v.add(join(path, "app"), "%q is not a valid app name; expected lowercase letters, digits and '-'", d.App)
	}
}

func (v *validator) approval(path string, a *Approval) {
	if a == nil {
		return
	}
	switch {
	case a.Role == "" && len(a.Users) == 0:
		v.add(path, "set role (one of %s) or users", strings.Join(Roles, ", "))
	case a.Role != "" && len(a.Users) > 0:
		v.add(path, "set role or users, not both")
	case a.Role != "" && !slices.Contains(Roles, a.Role):
		v.add(join(path, "role"), "unknown role %q; expected one of: %s", a.Role, strings.Join(Roles, ", "))
	}
	seen := map[string]bool{}
	for i, u := range a.Users {
		switch {
		case strings.TrimSpace(u) == "":
			v.add(index(join(path, "users"), i), "empty user name")
		case seen[u]:
			v.add(index(join(path, "users"), i), "user %q is listed twice", u)
		}
		seen[u] = true
	}
	switch {
	case a.Count < 1:
		v.add(join(path, "count"), "must be at least 1")
	case len(a.Users) > 0 && a.Count > len(a.Users):
		v.add(join(path, "count"), "%d approvals asked of %d users can never be given", a.Count, len(a.Users))
	}
	if a.Timeout < 0 || a.Timeout.D() > MaxApprovalTimeout {
		v.add(join(path, "timeout"), "%s is out of range; expected up to %s", a.Timeout, MaxApprovalTimeout)
	}
}

func (v *validator) notify(path string, n *Notify) {
	if n == nil {
		return
	}
	u, err := url.Parse(n.URL)
	switch {
	case n.URL == "":
		v.add(join(path, "url"), "required; the http(s) address to post the run's outcome to")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		v.add(join(path, "url"), "%q is not an http:// or https:// URL", n.URL)
	}
	seen := map[string]bool{}
	for i, on := range n.On {
		switch {
		case on != OnSuccess && on != OnFailure:
			v.add(index(join(path, "on"), i), "unknown outcome %q; expected success or failure", on)
		case seen[on]:
			v.add(index(join(path, "on"), i), "%q is listed twice", on)
		}
		seen[on] = true
	}
}

// envNameProblem says what is wrong with an environment variable name.
func envNameProblem(name string) string {
	switch {
	case name == "":
		return "required; expected a variable name like GOFLAGS"
	case !envNamePattern.MatchString(name):
		return fmt.Sprintf("%q is not a valid variable name; expected letters, digits and '_', not starting with a digit", name)
	case strings.HasPrefix(strings.ToUpper(name), ReservedEnvPrefix):
		return fmt.Sprintf("%q starts with %s, which Berth reserves for the variables it sets", name, ReservedEnvPrefix)
	}
	return ""
}

// relPathProblem says what is wrong with a path inside the checkout (or,
// with home, inside the step's home as "~/..."); globs are allowed.
func relPathProblem(p string, home bool) string {
	rest := p
	if home && strings.HasPrefix(p, "~/") {
		rest = p[2:]
	}
	switch {
	case strings.TrimSpace(p) == "":
		return "empty path"
	case strings.ContainsRune(p, 0):
		return "path holds a NUL byte"
	case strings.HasPrefix(rest, "/"):
		if home {
			return fmt.Sprintf("%q is absolute; expected a path inside the checkout, or ~/ for the step's home", p)
		}
		return fmt.Sprintf("%q is absolute; expected a path inside the checkout", p)
	case strings.HasPrefix(p, "~") && rest == p:
		return fmt.Sprintf("%q: only ~/ (the step's home) is understood", p)
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(rest, "/"), "/") {
		if seg == ".." {
			return fmt.Sprintf("%q leaves the checkout through ..", p)
		}
	}
	if _, err := CompileGlob(strings.TrimSuffix(rest, "/")); err != nil && strings.TrimSuffix(rest, "/") != "" {
		return fmt.Sprintf("bad glob pattern %q: %v", p, err)
	}
	return ""
}

func allNegative(ps []string) bool {
	for _, p := range ps {
		if !strings.HasPrefix(p, "!") {
			return false
		}
	}
	return true
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func eventStrings() []string {
	out := make([]string, len(Events))
	for i, e := range Events {
		out[i] = string(e)
	}
	return out
}

func eventList() string { return strings.Join(eventStrings(), ", ") }
