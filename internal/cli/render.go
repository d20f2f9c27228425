package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// The render functions draw tables from fixed data, so tests can check them
// without a server; now is passed in for the AGE columns.

// renderApps: NAME RELEASE SERVING PHASE SERVICES AGE. SERVICES counts the
// services with all their instances ready.
func renderApps(w io.Writer, apps []api.App, now time.Time) error {
	tw := newTable(w)
	row(tw, "NAME", "RELEASE", "SERVING", "PHASE", "SERVICES", "AGE")
	for _, a := range apps {
		row(tw, a.Name, num(a.TargetRelease), num(a.Status.Serving), dash(a.Status.Phase),
			servicesReady(a.Status.Services), age(now, a.CreatedAt))
	}
	return tw.Flush()
}

func servicesReady(ss []api.ServiceStatus) string {
	if len(ss) == 0 {
		return "-"
	}
	ready := 0
	for _, s := range ss {
		if s.Ready >= s.Desired {
			ready++
		}
	}
	return fmt.Sprintf("%d/%d", ready, len(ss))
}

// renderStatus: the app's header, its conditions and its services' ones,
// a table of services and one of instances per service.
func renderStatus(w io.Writer, a api.App, now time.Time) error {
	st := a.Status
	tw := newTable(w)
	row(tw, "App:", a.Name)
	release := num(a.TargetRelease)
	if st.Serving != 0 {
		release += fmt.Sprintf(" (serving %d)", st.Serving)
	}
	if a.LatestRelease > a.TargetRelease {
		release += fmt.Sprintf(" (latest %d)", a.LatestRelease)
	}
	row(tw, "Release:", release)
	if st.Canary != nil {
		row(tw, "Canary:", canaryLine(st.Canary, now))
	}
	row(tw, "Phase:", dash(st.Phase))
	if st.Message != "" {
		row(tw, "Message:", oneLine(st.Message))
	}
	row(tw, "Age:", age(now, a.CreatedAt))
	if !st.ObservedAt.IsZero() {
		row(tw, "Observed:", age(now, st.ObservedAt)+" ago")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	type cond struct {
		of string
		c  api.Condition
	}
	var conds []cond
	for _, c := range st.Conditions {
		conds = append(conds, cond{"", c})
	}
	for _, s := range st.Services {
		for _, c := range s.Conditions {
			conds = append(conds, cond{s.Name, c})
		}
	}
	if len(conds) > 0 {
		fmt.Fprintln(w, "\nConditions:")
		tw = newTable(w)
		row(tw, "  TYPE", "STATUS", "REASON", "AGE", "MESSAGE")
		for _, c := range conds {
			typ := c.c.Type
			if c.of != "" {
				typ = c.of + " " + typ
			}
			row(tw, "  "+typ, c.c.Status, dash(c.c.Reason), age(now, c.c.LastTransitionTime), dash(oneLine(c.c.Message)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if len(st.Services) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nServices:")
	tw = newTable(w)
	row(tw, "  NAME", "READY", "RELEASE", "ADDRESS")
	for _, s := range st.Services {
		row(tw, "  "+s.Name, fmt.Sprintf("%d/%d", s.Ready, s.Desired), num(s.Release), dash(s.Address))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range st.Services {
		if len(s.Instances) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nInstances of %s:\n", s.Name)
		tw = newTable(w)
		row(tw, "  ID", "STATE", "PID", "PORT", "RESTARTS", "RELEASE", "AGE", "MESSAGE")
		for _, in := range s.Instances {
			state := dash(in.State)
			if in.Ready {
				state += " (ready)"
			}
			row(tw, "  "+in.ID, state, num(in.PID), num(in.Port), in.Restarts, num(in.Release),
				age(now, in.StartedAt), dash(instanceMessage(in)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// instanceMessage is the instance's message, else how it last exited.
func instanceMessage(in api.Instance) string {
	if in.Message != "" {
		return oneLine(in.Message)
	}
	if in.LastExit != nil {
		return "last " + exitText(*in.LastExit)
	}
	return ""
}

func exitText(e api.Exit) string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exited with code %d", e.Code)
}

// renderReleases: NUMBER STATE CAUSE CREATED MESSAGE, oldest first like the
// API returns them.
func renderReleases(w io.Writer, rs []api.Release, now time.Time) error {
	tw := newTable(w)
	row(tw, "NUMBER", "STATE", "CAUSE", "CREATED", "MESSAGE")
	for _, r := range rs {
		cause := dash(r.Cause)
		if r.RollbackOf != 0 {
			cause += fmt.Sprintf(" to %d", r.RollbackOf)
		}
		switch {
		case r.Config != nil && r.Config.PipelineOnly:
			// No new instances: only what pipeline runs read changed.
			cause += fmt.Sprintf(" (pipeline only, keeps %d)", r.Config.ReloadOf)
		case r.Config != nil && r.Config.ReloadOf != 0:
			// No new instances: those of ReloadOf took the config live.
			cause += fmt.Sprintf(" (live reload of %d)", r.Config.ReloadOf)
		}
		created := age(now, r.CreatedAt)
		if created != "-" {
			created += " ago"
		}
		row(tw, r.Number, dash(r.State), cause, created, dash(oneLine(reasonMessage(r.Reason, r.Message))))
	}
	return tw.Flush()
}

// renderContexts: CURRENT NAME URL; tokens are never shown.
func renderContexts(w io.Writer, cfg *Config) error {
	tw := newTable(w)
	row(tw, "CURRENT", "NAME", "URL")
	for _, c := range cfg.Contexts {
		cur := ""
		if c.Name == cfg.CurrentContext {
			cur = "*"
		}
		row(tw, cur, c.Name, c.URL)
	}
	return tw.Flush()
}

// versions is what `berth version -o json|yaml` prints.
type versions struct {
	Client api.Version  `json:"client"`
	Server *api.Version `json:"server,omitempty"`
}

func renderVersions(w io.Writer, v versions) error {
	fmt.Fprintf(w, "Client: %s\n", versionText(v.Client))
	if v.Server != nil {
		fmt.Fprintf(w, "Server: %s\n", versionText(*v.Server))
	}
	return nil
}

func versionText(v api.Version) string {
	parts := []string{dash(v.Version)}
	if v.Commit != "" {
		parts = append(parts, "commit "+v.Commit)
	}
	if v.GoVersion != "" {
		parts = append(parts, v.GoVersion)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return parts[0] + " (" + strings.Join(parts[1:], ", ") + ")"
}
