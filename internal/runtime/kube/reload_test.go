package kube

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/spec"
)

// A live config reload (the same workload, a later Release whose files
// differ, InstancesOf naming the release that started the pods) updates
// the files ConfigMap in place and leaves the pod template alone: the
// same pods run on, and the workload reports the new release.
func TestConfigReloadKeepsPods(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 2)
	w.Spec.Config = &spec.ServiceConfig{Reload: spec.ReloadSignal, Signal: "SIGHUP"}
	w.Files = map[string]string{"app.conf": "mode=one"}
	mustApply(t, rt, w)
	first := waitReady(t, rt, w.ID, 2)
	firstHash := podTemplateHashes(t, rt, w.ID)
	cmName := objectName(w.ID) + "-files"
	cm, err := rt.client.CoreV1().ConfigMaps(rt.Namespace()).Get(ctxFor(t, 10*time.Second), cmName, metav1.GetOptions{})
	if err != nil || cm.Data["app.conf"] != "mode=one" {
		t.Fatalf("files ConfigMap %s: %v %v", cmName, cm, err)
	}
	d, err := rt.client.AppsV1().Deployments(rt.Namespace()).Get(ctxFor(t, 10*time.Second), objectName(w.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vols := d.Spec.Template.Spec.Volumes
	if !slices.ContainsFunc(vols, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cmName }) {
		t.Fatalf("pod template volumes %+v do not mount %s", vols, cmName)
	}
	gen := d.Generation

	reload := w
	reload.Release, reload.InstancesOf = 2, 1
	reload.Files = map[string]string{"app.conf": "mode=two"}
	mustApply(t, rt, reload)
	eventually(t, "the workload at release 2 with the same pods", func() string {
		ws, err := rt.Status(context.Background(), w.ID)
		if err != nil {
			return err.Error()
		}
		if ws.Release != 2 || ws.Ready != 2 || !maps.Equal(names(ws), names(first)) {
			return describe(ws)
		}
		return ""
	})
	cm, err = rt.client.CoreV1().ConfigMaps(rt.Namespace()).Get(ctxFor(t, 10*time.Second), cmName, metav1.GetOptions{})
	if err != nil || cm.Data["app.conf"] != "mode=two" {
		t.Fatalf("files ConfigMap after the reload: %v %v", cm, err)
	}
	d, err = rt.client.AppsV1().Deployments(rt.Namespace()).Get(ctxFor(t, 10*time.Second), objectName(w.ID), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != gen {
		t.Errorf("the Deployment's generation went from %d to %d: its pod template changed", gen, d.Generation)
	}
	if h := podTemplateHashes(t, rt, w.ID); !slices.Equal(h, firstHash) {
		t.Errorf("pod template hashes %v after the reload, want %v", h, firstHash)
	}
}
