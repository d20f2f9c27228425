package spec

import "testing"

// TestAutoscaleParses: a declared range replaces replicas, and the count a
// runtime without autoscaling runs is its min.
func TestAutoscaleParses(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte("name: app\nservices:\n  web:\n    command: [x]\n    resources: {cpu: 500m}\n    autoscale: {min: 2, max: 10, cpu: 70}\n"))
	if err != nil {
		t.Fatal(err)
	}
	web := a.Services["web"]
	if web.Autoscale == nil || *web.Autoscale != (Autoscale{Min: 2, Max: 10, CPU: 70}) || web.ReplicaCount() != 2 {
		t.Errorf("autoscale %+v, replica count %d", web.Autoscale, web.ReplicaCount())
	}
}
