package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Reasons a release fails for its secrets.
const (
	// ReasonSecretMissing: a service names a secret that is not set.
	ReasonSecretMissing = "SecretMissing"
	// ReasonSecretUnreadable: a secret does not decrypt (a wrong or
	// missing master key, or a changed row).
	ReasonSecretUnreadable = "SecretUnreadable"
)

// Secrets is what the reconciler needs of the secret store
// (internal/secretstore.Store implements it).
type Secrets interface {
	// ResolveVersions returns the values of the named secrets of app
	// (owned by team) at the versions a release recorded (nil: the
	// current values; see secretstore.Store.ResolveVersions for version
	// 0); a name not set at that version fails with
	// secretstore.ErrUnknown.
	ResolveVersions(ctx context.Context, team, app string, names []string, versions map[string]int64) (map[string]string, error)
	// ValuesWith returns every current secret value of app and those of
	// the given versions (name -> versions), to mask; with an error, the
	// values that could be read.
	ValuesWith(ctx context.Context, app string, versions map[string][]int64) ([]string, error)
}

// configOf is the config set version rel was made with (empty when none).
func (p *pass) configOf(ctx context.Context, rel *release) (store.ConfigVersion, error) {
	c := rel.rec.Config
	if c == nil || c.Version == 0 {
		return store.ConfigVersion{}, nil
	}
	if v, ok := p.configs[rel.number()]; ok {
		return v, nil
	}
	v, err := p.r.store.GetConfigVersion(ctx, p.app.Name, c.Env, c.Version)
	if err != nil {
		return store.ConfigVersion{}, fmt.Errorf("deploy: config of release %d: %w", rel.number(), err)
	}
	if p.configs == nil {
		p.configs = map[int]store.ConfigVersion{}
	}
	p.configs[rel.number()] = v
	return v, nil
}

// secretsOf decrypts the named secrets at the versions rel recorded, only
// now that a workload of rel is built for the runtime. Those versions are
// part of the release, so the workload ID (which names the release) is
// what identifies the values too: a changed secret is a new release, and
// instances of an older one keep getting its values.
func (p *pass) secretsOf(ctx context.Context, rel *release, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if p.r.opts.Secrets == nil {
		return nil, fmt.Errorf("secrets %v: %w: this server has no master key", names, secretstore.ErrUnknown)
	}
	vals, err := p.r.opts.Secrets.ResolveVersions(ctx, p.app.Team, p.app.Name, names, recordedVersions(rel))
	if err == nil {
		// Values about to reach an instance may be new: the app's masker
		// is built again from the store the next time it is needed.
		p.r.maskersMu.Lock()
		p.r.maskers.Delete(p.app.Name)
		p.r.maskersMu.Unlock()
		p.masked = false
	}
	return vals, err
}

// recordedVersions are the secret versions rel was made with; nil for a
// release from before they were recorded (it gets the current values).
func recordedVersions(rel *release) map[string]int64 {
	c := rel.rec.Config
	if c == nil {
		return nil
	}
	if c.Secrets == nil {
		// Recorded, with no secret set: each is version 0.
		return map[string]int64{}
	}
	return c.Secrets
}

// checkSecrets fails target, before anything is built or started, when a
// secret its services name is not set or cannot be read. failed reports
// that it did.
func (p *pass) checkSecrets(ctx context.Context, target *release) (failed bool, err error) {
	var names []string
	for _, svc := range target.order {
		for _, n := range target.service(svc).Secrets {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	_, err = p.secretsOf(ctx, target, names)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, secretstore.ErrUnknown):
		return true, p.fail(ctx, target, ReasonSecretMissing, err.Error())
	case errors.Is(err, secrets.ErrDecrypt), errors.Is(err, secrets.ErrUnknownKey), errors.Is(err, secrets.ErrMalformed):
		return true, p.fail(ctx, target, ReasonSecretUnreadable, err.Error())
	}
	return false, err
}

// masker hides the app's secret values in what the reconciler writes about
// instances: release messages and status quote their output.
func (p *pass) masker(ctx context.Context) *secrets.Masker {
	if p.masked {
		return p.mask
	}
	p.masked = true
	p.mask = p.r.masker(ctx, p.app.Name)
	return p.mask
}

// The masker is cached per app: building it reads and decrypts every
// secret of the app (about 0.4 ms for ten), too much for every pass. Values
// reach instances only through secretsOf, which drops the cached one.
// Beside the current values it masks those of the versions recorded by
// the releases that have or may get instances (versionsInUse): those of
// a release still serving or draining after a secret changed print the
// earlier value.
func (r *Reconciler) masker(ctx context.Context, app string) *secrets.Masker {
	if r.opts.Secrets == nil {
		return nil
	}
	if m, ok := r.maskers.Load(app); ok {
		return m.(*secrets.Masker)
	}
	r.maskersMu.Lock()
	defer r.maskersMu.Unlock()
	if m, ok := r.maskers.Load(app); ok {
		return m.(*secrets.Masker)
	}
	versions, verr := r.versionsInUse(ctx, app)
	vals, err := r.opts.Secrets.ValuesWith(ctx, app, versions)
	err = errors.Join(verr, err)
	m := secrets.NewMasker(vals...)
	if err != nil {
		// The values that opened are masked; those that did not cannot
		// have reached an instance from here either. Not cached: the next
		// pass tries again.
		r.log.Warn("some secrets of the app are not readable; they are not masked", "app", app, "masked", m.Len(), "err", err)
		return m
	}
	r.maskers.Store(app, m)
	return m
}

// versionsInUse are the secret versions (name -> versions) recorded by
// the releases of app that have or may get instances: the target, a
// canary, the serving release (as the API last wrote it and as the
// reconciler picks it) and any with a workload in the runtime (one still
// draining). A gone app has none.
func (r *Reconciler) versionsInUse(ctx context.Context, app string) (map[string][]int64, error) {
	a, err := r.store.GetApp(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret versions in use by %s: %w", app, err)
	}
	use := map[int]bool{a.TargetRelease: true, a.Status.Serving: true}
	if a.Canary != nil {
		use[a.Canary.Release] = true
	}
	list, err := r.rt.List(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("secret versions in use by %s: %w", app, err)
	}
	for _, w := range list {
		use[w.Release] = true
	}
	recs, err := r.store.ListReleases(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("secret versions in use by %s: %w", app, err)
	}
	serving := 0
	for _, rec := range recs {
		if rec.State == api.ReleaseDeployed {
			serving = max(serving, rec.Number)
		}
	}
	use[serving] = true
	out := map[string][]int64{}
	for _, rec := range recs {
		if !use[rec.Number] || rec.Config == nil {
			continue
		}
		for name, v := range rec.Config.Secrets {
			if !slices.Contains(out[name], v) {
				out[name] = append(out[name], v)
			}
		}
	}
	return out, nil
}

// maskStatus returns st with every message and output line masked.
func maskStatus(m *secrets.Masker, st api.AppStatus) api.AppStatus {
	if m.Len() == 0 {
		return st
	}
	st.Message = m.Mask(st.Message)
	st.Conditions = maskConditions(m, st.Conditions)
	svcs := make([]api.ServiceStatus, len(st.Services))
	for i, s := range st.Services {
		s.Conditions = maskConditions(m, s.Conditions)
		insts := make([]api.Instance, len(s.Instances))
		for j, in := range s.Instances {
			in.Message = m.Mask(in.Message)
			if in.LastExit != nil {
				e := *in.LastExit
				e.LogTail = make([]string, len(in.LastExit.LogTail))
				for k, l := range in.LastExit.LogTail {
					e.LogTail[k] = m.Mask(l)
				}
				in.LastExit = &e
			}
			insts[j] = in
		}
		s.Instances = insts
		svcs[i] = s
	}
	if st.Services != nil {
		st.Services = svcs
	}
	return st
}

func maskConditions(m *secrets.Masker, cs []api.Condition) []api.Condition {
	if cs == nil {
		return nil
	}
	out := make([]api.Condition, len(cs))
	for i, c := range cs {
		c.Message = m.Mask(c.Message)
		out[i] = c
	}
	return out
}

// maskLogs masks the app's secrets in a log stream, line by line (the
// stream is lines; each line of a multi-line secret is masked too).
func (r *Reconciler) maskLogs(ctx context.Context, app string, rc io.ReadCloser) io.ReadCloser {
	m := r.masker(ctx, app)
	if m.Len() == 0 {
		return rc
	}
	pr, pw := io.Pipe()
	// The goroutine is owned by the returned reader: closing it closes the
	// source, which ends the copy.
	go func() {
		br := bufio.NewReader(rc)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				if _, werr := io.WriteString(pw, m.Mask(line)); werr != nil {
					_ = rc.Close()
					return
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return &maskedLogs{PipeReader: pr, src: rc}
}

type maskedLogs struct {
	*io.PipeReader
	src io.Closer
}

func (m *maskedLogs) Close() error {
	err := m.src.Close()
	_ = m.PipeReader.Close()
	return err
}
