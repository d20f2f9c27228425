package spec

import "strings"

// Environment variables every instance gets from its runtime. User env
// must not set them (PORT and anything starting with ReservedEnvPrefix).
const (
	EnvPort     = "PORT"
	EnvApp      = "BERTH_APP"
	EnvService  = "BERTH_SERVICE"
	EnvRelease  = "BERTH_RELEASE"
	EnvInstance = "BERTH_INSTANCE"
	// EnvConfigDir is the folder holding the app's config set files.
	EnvConfigDir = "BERTH_CONFIG_DIR"
	// ReservedEnvPrefix starts every variable Berth sets, now or later.
	ReservedEnvPrefix = "BERTH_"
	// EnvVolumePrefix + VolumeEnvStem(name) holds a volume's host folder.
	EnvVolumePrefix = "BERTH_VOLUME_"
)

// EnvStem turns a service or volume name into the stem of its variables:
// upper case, '-' as '_' ("user-db" -> "USER_DB").
func EnvStem(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// DependencyEnv returns the names of the variables that tell a service where
// its dependency dep listens: <DEP>_URL (http://127.0.0.1:<port> on the
// local runtime, http://<app>-<dep>.<namespace>.svc:<port> on a cluster)
// and <DEP>_ADDR (the same without "http://").
func DependencyEnv(dep string) (urlKey, addrKey string) {
	stem := EnvStem(dep)
	return stem + "_URL", stem + "_ADDR"
}

// VolumeEnv returns the name of the variable holding volume name's folder.
func VolumeEnv(name string) string { return EnvVolumePrefix + EnvStem(name) }
