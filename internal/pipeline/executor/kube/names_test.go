package kube

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a-very-long-app-name", 5) + ".12"
	tests := []struct {
		desc, run, step string
	}{
		{"plain", "shop.3", "build"},
		{"long", long, "step-with-a-long-name-as-well"},
		{"odd characters", "Shop_App.3", "Build"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			for what, name := range map[string]string{"claim": claimName(tt.run), "pod": podName(tt.run, tt.step)} {
				if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
					t.Errorf("%s name %q: %v", what, name, errs)
				}
			}
			if errs := validation.IsValidLabelValue(labelValue(tt.run)); len(errs) > 0 {
				t.Errorf("label %q: %v", labelValue(tt.run), errs)
			}
			if first, second := podName(tt.run, tt.step), podName(tt.run, tt.step); first == second {
				t.Error("two attempts of a step got the same pod name")
			}
		})
		if other, dup := seen[claimName(tt.run)]; dup {
			t.Errorf("runs %q and %q share claim %s", tt.run, other, claimName(tt.run))
		}
		seen[claimName(tt.run)] = tt.run
	}
	// Runs whose IDs differ only in characters a name cannot hold must not
	// share a workspace.
	if claimName("shop.3") == claimName("shop-3") {
		t.Errorf("shop.3 and shop-3 share claim %s", claimName("shop.3"))
	}
}
