package server

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/client-go/kubernetes"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/berthdev/berth/internal/clusterroute"
	"github.com/berthdev/berth/internal/store"
)

// clusterClients opens each cluster's clients once, with its stored
// credentials, for the routing reconciler. A cluster removed and added
// again under the same name is opened again when its server changes.
type clusterClients struct {
	st    store.Store
	creds clusterAccess

	mu   sync.Mutex
	open map[string]openedClients
}

type openedClients struct {
	server  string
	clients clusterroute.Clients
}

func newClusterClients(st store.Store, creds clusterAccess) *clusterClients {
	return &clusterClients{st: st, creds: creds, open: map[string]openedClients{}}
}

func (c *clusterClients) Open(ctx context.Context, name string) (clusterroute.Clients, error) {
	cl, err := c.st.GetCluster(ctx, name)
	if err != nil {
		return clusterroute.Clients{}, fmt.Errorf("cluster %s: %w", name, err)
	}
	c.mu.Lock()
	o, ok := c.open[name]
	c.mu.Unlock()
	if ok && o.server == cl.Server {
		return o.clients, nil
	}
	cfg, err := c.creds.config(ctx, cl)
	if err != nil {
		return clusterroute.Clients{}, err
	}
	cfg.UserAgent = "berth-routing"
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return clusterroute.Clients{}, fmt.Errorf("cluster %s: %w", name, err)
	}
	gc, err := gwclient.NewForConfig(cfg)
	if err != nil {
		return clusterroute.Clients{}, fmt.Errorf("cluster %s: %w", name, err)
	}
	o = openedClients{server: cl.Server, clients: clusterroute.Clients{Kube: kc, Gateway: gc}}
	c.mu.Lock()
	c.open[name] = o
	c.mu.Unlock()
	return o.clients, nil
}
