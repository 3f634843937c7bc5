// Package testenv gives tests the real environment they need — a Docker
// engine, a busybox image, external tools, the shared conformance data — and
// decides what happens when it is missing: a skip with a reason on a
// developer's machine, a failure under CTSEC_REQUIRE_INTEGRATION=1 (CI), so
// integration tests can never pass by silently skipping there.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireIntegration reports whether missing tools must fail tests.
func RequireIntegration() bool { return os.Getenv("CTSEC_REQUIRE_INTEGRATION") == "1" }

// Unavailable skips the test, or fails it under CTSEC_REQUIRE_INTEGRATION=1.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if RequireIntegration() {
		t.Fatalf("integration prerequisite missing (CTSEC_REQUIRE_INTEGRATION=1): "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}

// Tool returns the path of an external tool or makes the test unavailable.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s is not installed", name)
	}
	return p
}

// Root makes the test unavailable unless it runs as root.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root")
	}
}

// ModuleRoot is the directory holding go.mod, found from the working
// directory upwards (go test runs each package in its own directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Shared returns a path inside the shared data directory that sits beside the
// checkout (../shared), or $CTSEC_SHARED when set. The shared data is part of
// the test suite, so its absence fails under CTSEC_REQUIRE_INTEGRATION=1.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	dir := os.Getenv("CTSEC_SHARED")
	if dir == "" {
		dir = filepath.Join(filepath.Dir(ModuleRoot(t)), "shared")
	}
	p := filepath.Join(append([]string{dir}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "shared test data %s not found (set CTSEC_SHARED)", p)
	}
	return p
}
