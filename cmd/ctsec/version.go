package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/seccomp"
	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise
// the module version or VCS revision from the build info is shown.
var version = ""

type versionInfo struct {
	Version    string          `json:"version"`
	Revision   string          `json:"revision,omitempty"`
	GoVersion  string          `json:"go_version"`
	Platform   string          `json:"platform"`
	Libseccomp seccomp.Library `json:"libseccomp"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v.Revision = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

type versionOptions struct{}

// runFunc is what a command's constructor calls with its parsed options:
// the command's run function, or a test's stand-in.
type runFunc[O any] func(ctx context.Context, opts *O, a *app) (*report.Report, error)

func newVersionCmd(a *app, runF runFunc[versionOptions]) *cobra.Command {
	if runF == nil {
		runF = runVersion
	}
	opts := &versionOptions{}
	return &cobra.Command{
		Use:   "version",
		Short: "Print ctsec's version, revision, Go and libseccomp versions",
		Long: `version prints ctsec's version and revision, the Go it was built with, the
platform, and libseccomp twice: the version ctsec was built against and the
one it is running with. They differ when the shared library changed after
the build, and that changes which syscall names resolve (runc drops the
ones its libseccomp does not know).`,
		Example: "  ctsec version\n  ctsec version --format json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
}

func runVersion(_ context.Context, _ *versionOptions, _ *app) (*report.Report, error) {
	v := buildVersion()
	v.Libseccomp = seccomp.LibraryVersions()
	r := report.New("version", nil, v)
	r.Text = func(w io.Writer, _ report.Options) error {
		rev := ""
		if v.Revision != "" {
			rev = " (" + v.Revision + ")"
		}
		_, err := fmt.Fprintf(w, "ctsec %s%s %s %s\nlibseccomp %s (built against %s)\n",
			v.Version, rev, v.GoVersion, v.Platform, v.Libseccomp.Running, v.Libseccomp.Linked)
		return err
	}
	return &r, nil
}
