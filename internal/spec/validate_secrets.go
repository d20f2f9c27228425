package spec

import "strings"

// MaxSecretNameLen bounds a secret's name (an environment variable name).
const MaxSecretNameLen = 128

// secrets checks a service's secret names: each becomes an environment
// variable, so it follows the env rules, and it must not also be set by
// env (which value would win would be a surprise).
func (v *validator) secrets(p string, s *Service) {
	sp := join(p, "secrets")
	generated := map[string]string{}
	for _, dep := range s.DependsOn {
		u, ad := DependencyEnv(dep)
		generated[u], generated[ad] = dep, dep
	}
	seen := map[string]int{}
	for i, name := range s.Secrets {
		ip := index(sp, i)
		switch {
		case !validEnvName(name):
			v.add(ip, "%s is not a secret name (letters, digits and '_', not starting with a digit)", quoteShort(name))
		case len(name) > MaxSecretNameLen:
			v.add(ip, "is %d characters long; at most %d", len(name), MaxSecretNameLen)
		case name == EnvPort:
			v.add(ip, "PORT is reserved: Berth sets it to the port the instance must listen on")
		case strings.HasPrefix(name, ReservedEnvPrefix):
			v.add(ip, "names starting with BERTH_ are reserved for variables Berth sets")
		case generated[name] != "":
			v.add(ip, "is set by Berth to the address of dependency %q", generated[name])
		case inEnv(s.Env, name):
			v.add(ip, "%s is also set in %s; a variable comes from env or from a secret, not both", name, join(join(p, "env"), name))
		}
		if j, dup := seen[name]; dup {
			v.add(ip, "%s is listed twice (also %s)", quoteShort(name), index(sp, j))
		} else {
			seen[name] = i
		}
	}
}

func inEnv(env map[string]string, name string) bool {
	_, ok := env[name]
	return ok
}
