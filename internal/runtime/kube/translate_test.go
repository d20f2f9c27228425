package kube

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	w := webWorkload(3, 2)
	w.Spec.Resources = spec.Resources{CPU: "500m", Memory: "256Mi"}
	w.Spec.Volumes = []spec.Volume{{Name: "data", Path: "/data"}}
	w.Spec.StopGracePeriod = spec.Duration(1500 * time.Millisecond)
	o, err := translate(w, "prod", "fast")
	if err != nil {
		t.Fatal(err)
	}
	d := o.deployment
	if *d.Name != "shop-web-r3" || *d.Namespace != "prod" || *d.Spec.Replicas != 2 {
		t.Errorf("deployment %s/%s replicas %d", *d.Namespace, *d.Name, *d.Spec.Replicas)
	}
	for k, v := range map[string]string{
		LabelManagedBy: "berth", LabelName: "web", LabelPartOf: "shop", LabelVersion: "r3",
		LabelApp: "shop", LabelService: "web", LabelRelease: "3", LabelWorkload: "shop-web-r3",
	} {
		if d.Labels[k] != v || d.Spec.Template.Labels[k] != v {
			t.Errorf("label %s = %q (template %q), want %q", k, d.Labels[k], d.Spec.Template.Labels[k], v)
		}
	}
	pod := d.Spec.Template.Spec
	if !*pod.SecurityContext.RunAsNonRoot || *pod.AutomountServiceAccountToken || *pod.TerminationGracePeriodSeconds != 2 {
		t.Errorf("pod security %+v automount %v grace %d", pod.SecurityContext, *pod.AutomountServiceAccountToken, *pod.TerminationGracePeriodSeconds)
	}
	ct := pod.Containers[0]
	if *ct.SecurityContext.AllowPrivilegeEscalation || *ct.SecurityContext.Privileged || ct.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security %+v", ct.SecurityContext)
	}
	if ct.Resources.Limits.Cpu().MilliValue() != 500 || ct.Resources.Requests.Memory().Value() != 256<<20 {
		t.Errorf("resources %+v", ct.Resources)
	}
	if p := ct.ReadinessProbe; *p.HTTPGet.Path != "/healthz" || p.HTTPGet.Port.IntValue() != 8080 || *p.PeriodSeconds != 1 || *p.FailureThreshold != 3 {
		t.Errorf("readiness %+v", p)
	}
	if p := ct.LivenessProbe; *p.FailureThreshold != 9 {
		t.Errorf("liveness failure threshold %d, want 3x the readiness one", *p.FailureThreshold)
	}
	if o.pdb == nil || o.secret == nil || o.configMap != nil || o.service == nil {
		t.Errorf("pdb %v secret %v configmap %v service %v", o.pdb != nil, o.secret != nil, o.configMap != nil, o.service != nil)
	}
	if len(o.claims) != 1 || *o.claims[0].Name != "shop-web-data" || *o.claims[0].Spec.StorageClassName != "fast" ||
		o.claims[0].Labels[LabelWorkload] != "" {
		t.Errorf("claims %+v", o.claims)
	}

	// One replica: no disruption budget.
	w.Replicas = 1
	if o, _ := translate(w, "prod", ""); o.pdb != nil {
		t.Error("a PDB for one replica blocks node drains")
	}
}

func TestTranslateRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		desc string
		edit func(*runtime.Workload)
		want error
		text string
	}{
		{"no image", func(w *runtime.Workload) { w.Spec.Image = "" }, ErrNoImage, `service "web" of app "shop"`},
		{"bad cpu", func(w *runtime.Workload) { w.Spec.Resources.CPU = "lots" }, ErrInvalidWorkload, "services.web.resources.cpu"},
		{"bad size", func(w *runtime.Workload) { w.Spec.Volumes = []spec.Volume{{Name: "d", Path: "/d", Size: "big"}} }, ErrInvalidWorkload, "services.web.volumes.d.size"},
		{"negative replicas", func(w *runtime.Workload) { w.Replicas = -1 }, ErrInvalidWorkload, "replicas"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			w := webWorkload(1, 1)
			c.edit(&w)
			_, err := translate(w, "ns", "")
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("error %v, want %v mentioning %q", err, c.want, c.text)
			}
		})
	}
}

func TestObjectNameShortens(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 40) + "-" + strings.Repeat("b", 40) + "-r1"
	n1, n2 := objectName(long), objectName(long+"0")
	if len(n1) > 63 || len(n2) > 63 || n1 == n2 || !strings.HasPrefix(n1, "aaaa") {
		t.Errorf("objectName: %q %q", n1, n2)
	}
	if objectName("shop-web-r1") != "shop-web-r1" {
		t.Error("a short name changed")
	}
}
