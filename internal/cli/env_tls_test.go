package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// TestPrintEnvStatus: `env show` says how the gateway is, each TLS
// Secret and what to fix, such as an image the cluster cannot pull.
func TestPrintEnvStatus(t *testing.T) {
	t.Parallel()
	e := api.Environment{Name: "prod", Routing: api.RoutingGateway, Status: &api.EnvironmentStatus{
		Gateway: api.GatewayDegraded, Replicas: 2, Image: "ghcr.io/berthdev/berth:v1", CheckedAt: testNow.Add(-3 * time.Second),
		TLSSecrets: []api.TLSSecretStatus{
			{Name: "shop-tls", Served: true, Names: []string{"shop.example", "*.shop.example"}, NotAfter: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
			{Name: "api-tls", Error: "not found in namespace shop"},
		},
		Problems: []string{"TLS secret api-tls not found in namespace shop", "the gateway image ghcr.io/berthdev/berth:v1 cannot be pulled (ImagePullBackOff: x): ... --cluster-gateway-image ..."},
	}}
	var b bytes.Buffer
	if err := printEnvStatus(&b, e, testNow); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Gateway: degraded, 0/2 ready, image ghcr.io/berthdev/berth:v1 (checked 3s ago)",
		"shop-tls    yes     shop.example,*.shop.example  2027-02-01  -",
		"api-tls     no      -                            -           not found in namespace shop",
		"Problem: the gateway image ghcr.io/berthdev/berth:v1 cannot be pulled",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	b.Reset()
	e.Status = nil
	if err := printEnvStatus(&b, e, testNow); err != nil || !strings.Contains(b.String(), "Gateway: not looked at yet.") {
		t.Errorf("no status: %q %v", b.String(), err)
	}
}
