package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

func TestCanaryLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		cs   api.CanaryStatus
		want string
	}{
		{desc: "starting", cs: api.CanaryStatus{Release: 3, Stable: 2, Weight: 10, Step: 1, Steps: 2},
			want: "release 3 at 10 % beside release 2, step 1 of 2, starting"},
		{desc: "timed step", cs: api.CanaryStatus{Release: 3, Stable: 2, Weight: 10, Step: 1, Steps: 2, Ready: true, NextStepAt: testNow.Add(4*time.Minute + 30*time.Second)},
			want: "release 3 at 10 % beside release 2, step 1 of 2, next step in 4m30s"},
		{desc: "last step", cs: api.CanaryStatus{Release: 3, Stable: 2, Weight: 50, Step: 2, Steps: 2, Ready: true, NextStepAt: testNow.Add(time.Minute)},
			want: "release 3 at 50 % beside release 2, step 2 of 2, promoted in 1m0s"},
		{desc: "step waiting for a hand", cs: api.CanaryStatus{Release: 3, Stable: 2, Weight: 10, Step: 1, Steps: 1, Ready: true},
			want: "release 3 at 10 % beside release 2, step 1 of 1, waiting for rollout --weight, promote or abort"},
		{desc: "by hand", cs: api.CanaryStatus{Release: 3, Stable: 2, Weight: 0, Ready: true, Manual: true},
			want: "release 3 at 0 % beside release 2, moved by hand, waiting for rollout --weight, promote or abort"},
		{desc: "promoting", cs: api.CanaryStatus{Release: 3, Stable: 2, Weight: 50, Promoting: true},
			want: "release 3 being promoted (stable release 2 stops once it is ready)"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := canaryLine(&tt.cs, testNow); got != tt.want {
				t.Errorf("canaryLine =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestRenderStatusWithCanary(t *testing.T) {
	t.Parallel()
	a := shopApp()
	a.Status.Canary = &api.CanaryStatus{Release: 3, Stable: 2, Weight: 10, Step: 1, Steps: 1, Ready: true}
	var b bytes.Buffer
	if err := renderStatus(&b, a, testNow); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\nCanary:    release 3 at 10 % beside release 2, step 1 of 1, waiting for rollout --weight, promote or abort\n") {
		t.Errorf("status:\n%s", b.String())
	}
	a.Status.Canary = nil
	b.Reset()
	if err := renderStatus(&b, a, testNow); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Canary:") {
		t.Errorf("a canary line without a canary:\n%s", b.String())
	}
}
