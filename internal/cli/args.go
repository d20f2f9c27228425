package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// argsExactly accepts exactly the named positional arguments, and names
// the missing one in its error (cobra's "accepts 1 arg(s)" does not).
func argsExactly(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < len(names) {
			return fmt.Errorf("missing %s", strings.Join(names[len(args):], " and "))
		}
		if len(args) > len(names) {
			if len(names) == 0 {
				return fmt.Errorf("unexpected argument %q (this command takes none)", args[0])
			}
			return fmt.Errorf("unexpected argument %q (expected %s)", args[len(names)], strings.Join(names, " "))
		}
		for i, a := range args {
			if strings.TrimSpace(a) == "" {
				return fmt.Errorf("%s must not be empty", names[i])
			}
		}
		return nil
	}
}

// releaseNumber parses a release number argument.
func releaseNumber(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, usageErrorf("%s must be a release number (1, 2, ...), got %q", name, s)
	}
	return n, nil
}

// splitAppService splits "APP" or "APP/SERVICE".
func splitAppService(s string) (app, service string, err error) {
	app, service, hasSlash := strings.Cut(s, "/")
	if app == "" || (hasSlash && (service == "" || strings.Contains(service, "/"))) {
		return "", "", usageErrorf("expected APP or APP/SERVICE, got %q", s)
	}
	return app, service, nil
}
