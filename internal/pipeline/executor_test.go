package pipeline

import "testing"

func TestClusterEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, yaml, want string
	}{
		{"unset runs on the server", "on: [push]\nsteps:\n  - name: a\n    run: x\n    artifacts: [bin/]\n", ""},
		{"local runs on the server, artifacts allowed", "on: [push]\nexecutor: {env: local}\nsteps:\n  - name: a\n    run: x\n    artifacts: [bin/]\n", ""},
		{"an environment", "on: [push]\nexecutor: {env: ci}\nsteps:\n  - name: a\n    run: x\n    image: alpine\n", "ci"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.ClusterEnv(); got != tt.want {
				t.Errorf("ClusterEnv() = %q, want %q", got, tt.want)
			}
		})
	}
	var none *Pipeline
	if none.ClusterEnv() != "" {
		t.Error("a nil pipeline runs on a cluster")
	}
}
