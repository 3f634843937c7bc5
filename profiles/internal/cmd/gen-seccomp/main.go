// Command gen-seccomp writes profiles/seccomp/*.json from the pinned
// github.com/moby/profiles/seccomp module (run by `go generate ./profiles`).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ctsec/ctsec/profiles/internal/seccompgen"
)

func main() {
	files, err := seccompgen.Render()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen-seccomp:", err)
		os.Exit(1)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join("seccomp", name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen-seccomp:", err)
			os.Exit(1)
		}
	}
}
