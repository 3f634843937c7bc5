// Package systemd runs systemctl for units under a host root: through the
// running systemd when the root is this machine and systemd is its init,
// offline otherwise (systemctl --root), where enabling and disabling only
// change the links and nothing is started or reloaded.
package systemd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ctsec/ctsec/internal/execx"
)

// Booted reports whether systemd is this machine's init (sd_booted(3)).
func Booted() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}

// Live reports whether units under root are the running system's.
func Live(root string) bool {
	return (root == "" || filepath.Clean(root) == "/") && Booted()
}

// Systemctl runs systemctl args for units under root. Offline, --now is
// dropped (nothing runs there) and daemon-reload has nothing to reload.
func Systemctl(ctx context.Context, r execx.Runner, root string, args ...string) error {
	if !Live(root) {
		if len(args) > 0 && args[0] == "daemon-reload" {
			return nil
		}
		var kept []string
		for _, a := range args {
			if a != "--now" {
				kept = append(kept, a)
			}
		}
		if root == "" {
			root = "/"
		}
		args = append([]string{"--root=" + root}, kept...)
	}
	res, err := r.Run(ctx, "systemctl", args...)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("systemctl %s: %s", strings.Join(args, " "), execx.FirstLine(append(res.Stderr, res.Stdout...)))
	}
	return nil
}
