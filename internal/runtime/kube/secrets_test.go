package kube

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The app's secrets a service names reach its pods through a Secret of
// their own: not in the Deployment, not in the status, and pruned when
// the service stops naming them.
func TestSecretsReachPods(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	const value = "canary-s3cret-7f1d"
	w := webWorkload(1, 1)
	w.Spec.Env = map[string]string{"DB_PASSWORD": "declared", "GREETING": "hello"}
	w.Secrets = map[string]string{"DB_PASSWORD": value}
	mustApply(t, rt, w)

	got := kubectl(t, c, rt, "get", "secret", w.ID+"-secrets", "-o", "jsonpath={.data.DB_PASSWORD}")
	if dec, err := base64.StdEncoding.DecodeString(got); err != nil || string(dec) != value {
		t.Fatalf("secret value = %q (%v)", dec, err)
	}
	// A secret wins over a declared variable of the same name: its source
	// comes last in envFrom.
	refs := kubectl(t, c, rt, "get", "deployment", w.ID, "-o",
		`jsonpath={range .spec.template.spec.containers[0].envFrom[*]}{.configMapRef.name}{.secretRef.name}{" "}{end}`)
	if f := strings.Fields(refs); len(f) == 0 || f[len(f)-1] != w.ID+"-secrets" {
		t.Errorf("envFrom = %q; want %s-secrets last", refs, w.ID)
	}
	if dep := kubectl(t, c, rt, "get", "deployment", w.ID, "-o", "json"); strings.Contains(dep, value) {
		t.Error("the secret's value is in the Deployment")
	}
	st, err := rt.Status(ctxFor(t, 10*time.Second), w.ID)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range st.Env {
		if strings.Contains(v, value) {
			t.Errorf("status env %s holds the secret's value", k)
		}
	}

	w.Secrets = nil
	mustApply(t, rt, w)
	eventually(t, "the secrets' Secret to be pruned", func() string {
		out, err := c.Kubectl(t.Context(), "-n", rt.Namespace(), "get", "secrets", "-l", LabelWorkload+"="+w.ID, "-o", "name")
		if err != nil {
			return err.Error()
		}
		if strings.Contains(string(out), w.ID+"-secrets") {
			return string(out)
		}
		return ""
	})
}
