package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// maxTLSSecrets bounds the Secrets one gateway mounts (each is a volume
// source and a file pair read at start).
const maxTLSSecrets = 32

// gatewayTokenSecret is the Secret the routing reconciler keeps the
// gateway's token in (clusterroute.GatewayName): never a TLS Secret.
const gatewayTokenSecret = "berth-gateway"

// validTLSSecrets checks the TLS Secret names of an environment: DNS
// labels (each becomes NAME.crt and NAME.key in the gateway's
// certificate directory), each once, and only where Berth's gateway runs.
// The Secrets themselves live in the cluster: the routing reconciler
// reports a missing or wrong one in the environment's status.
func validTLSSecrets(routing string, names []string) []api.FieldError {
	if len(names) == 0 {
		return nil
	}
	if routing == api.RoutingGatewayAPI {
		return []api.FieldError{{Field: "tls_secrets", Message: fmt.Sprintf("only for routing %q: with %q the cluster's Gateway terminates TLS (its listeners' certificateRefs)", api.RoutingGateway, api.RoutingGatewayAPI)}}
	}
	if len(names) > maxTLSSecrets {
		return []api.FieldError{{Field: "tls_secrets", Message: fmt.Sprintf("%d Secrets: at most %d", len(names), maxTLSSecrets)}}
	}
	seen := map[string]bool{}
	var out []api.FieldError
	for i, n := range names {
		field := fmt.Sprintf("tls_secrets[%d]", i)
		switch {
		case !appNameRE.MatchString(n):
			out = append(out, api.FieldError{Field: field, Message: fmt.Sprintf("%q is not a Secret name Berth accepts (a DNS label: lower-case letters, digits and '-', 1 to 63 characters)", n)})
		case n == gatewayTokenSecret:
			out = append(out, api.FieldError{Field: field, Message: fmt.Sprintf("%q is the Secret holding the gateway's token; name a kubernetes.io/tls Secret", n)})
		case seen[n]:
			out = append(out, api.FieldError{Field: field, Message: fmt.Sprintf("%q is named twice", n)})
		}
		seen[n] = true
	}
	return out
}

func splitTLSSecrets(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// updateEnvironment changes an environment's settings: its TLS Secrets.
// The routing reconciler rolls the gateway onto them.
func (s *server) updateEnvironment(w http.ResponseWriter, r *http.Request) error {
	name, err := envParam(r)
	if err != nil {
		return err
	}
	e, err := s.loadEnvironment(r.Context(), name, rbac.EnvsManage)
	if err != nil {
		return err
	}
	var req api.EnvironmentUpdate
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.TLSSecrets != nil {
		if details := validTLSSecrets(routingOf(e), *req.TLSSecrets); len(details) > 0 {
			return newError(http.StatusUnprocessableEntity, api.CodeInvalid, "invalid environment: %s: %s", details[0].Field, details[0].Message).withDetails(details...)
		}
		e.TLSSecrets = strings.Join(*req.TLSSecrets, ",")
	}
	if err := s.Store.UpdateEnvironment(r.Context(), e); errors.Is(err, store.ErrNotFound) {
		return errEnvNotFound(name)
	} else if err != nil {
		return fmt.Errorf("update environment %s: %w", name, err)
	}
	names, err := s.teamNamesOf(r.Context(), e.Team)
	if err != nil {
		return err
	}
	s.loggerFrom(r.Context()).Info("environment updated", "env", e.Name, "tls_secrets", e.TLSSecrets)
	writeJSON(w, http.StatusOK, toAPIEnvironment(e, names))
	return nil
}

func routingOf(e store.Environment) string {
	if e.Routing == "" {
		return api.RoutingGateway
	}
	return e.Routing
}
