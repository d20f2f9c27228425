package spec

// CheckLocal reports what the local runtime cannot run: a service with only
// an image (no command) is a valid spec for clusters, but locally there is
// nothing to start. Services scaled to 0 are not reported. It returns a
// *ValidationError or nil, and expects an App that passed Parse or Validate.
func (a *App) CheckLocal() error {
	var problems []Problem
	for _, name := range sortedKeys(a.Services) {
		s := a.Services[name]
		if s == nil || len(s.Command) > 0 || (s.Replicas != nil && *s.Replicas == 0) {
			continue
		}
		problems = append(problems, Problem{
			Path:    join(join("services", name), "command"),
			Message: "the local runtime needs a command to run (this service only has an image, which clusters run)",
		})
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}
