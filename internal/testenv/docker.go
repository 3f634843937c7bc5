package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BusyboxImage is the image tests run containers from: no registry is
// reachable, so it is imported from a root built around the static busybox.
const BusyboxImage = "ctsec-test/busybox:latest"

// Docker makes sure a Docker engine answers (starting dockerd when running as
// root and none answers) and returns the docker CLI path.
func Docker(t testing.TB) string {
	t.Helper()
	docker := Tool(t, "docker")
	if dockerAnswers(docker) {
		return docker
	}
	if err := startDockerd(); err != nil {
		Unavailable(t, "no Docker engine answers and starting one failed: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second) // elapsed
	for time.Now().Before(deadline) {            // elapsed
		if dockerAnswers(docker) {
			return docker
		}
		time.Sleep(500 * time.Millisecond)
	}
	Unavailable(t, "dockerd started but did not answer within 60s (see /var/log/ctsec-dockerd.log)")
	return ""
}

func dockerAnswers(docker string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.Version}}").Run() == nil
}

func startDockerd() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root")
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return fmt.Errorf("dockerd not installed (Debian package docker.io)")
	}
	log, err := os.OpenFile("/var/log/ctsec-dockerd.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(dockerd)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own session, so the engine outlives the test binary that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

// Busybox makes sure BusyboxImage exists in the engine and returns its name.
// Packages test in parallel, so the import is serialised with a file lock.
func Busybox(t testing.TB) string {
	t.Helper()
	docker := Docker(t)
	if exec.Command(docker, "image", "inspect", BusyboxImage).Run() == nil {
		return BusyboxImage
	}
	unlock := lock(t, filepath.Join(os.TempDir(), "ctsec-testenv-busybox.lock"))
	defer unlock()
	if exec.Command(docker, "image", "inspect", BusyboxImage).Run() == nil {
		return BusyboxImage
	}
	cmd := exec.Command(docker, "import", "-", BusyboxImage)
	cmd.Stdin = bytes.NewReader(BusyboxTar(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("importing busybox image: %v: %s", err, out)
	}
	return BusyboxImage
}

// BusyboxTar is BusyboxRoot as a tar stream, for `docker import -` into
// the shared engine or a test's private one.
func BusyboxTar(t testing.TB) []byte {
	t.Helper()
	root := BusyboxRoot(t, t.TempDir())
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.AddFS(os.DirFS(root)); err != nil {
		t.Fatalf("building the busybox image tar: %v", err)
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("building the busybox image tar: %v", err)
	}
	return buf.Bytes()
}

// BusyboxRoot builds a minimal root filesystem in dir (static busybox, its
// applet links, /etc/passwd and the usual empty directories) and returns dir.
// It serves both the Docker image and runc bundles.
func BusyboxRoot(t testing.TB, dir string) string {
	t.Helper()
	busybox := staticBusybox(t)
	for _, d := range []string{"bin", "etc", "tmp", "proc", "sys", "dev", "run", "var", "root", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky) // os.Chmod ignores 0o1000
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// staticBusybox finds a statically linked busybox: the image has no libc.
func staticBusybox(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		out, err := exec.Command("file", "-L", p).Output()
		if err == nil && strings.Contains(string(out), "statically linked") {
			return p
		}
		if err != nil {
			if _, statErr := os.Stat(p); statErr == nil && isStatic(p) {
				return p
			}
		}
	}
	Unavailable(t, "no static busybox found (install the Debian package busybox-static)")
	return ""
}

// isStatic is the fallback when file(1) is missing: a static ELF has no
// PT_INTERP, so ldd refuses it.
func isStatic(p string) bool {
	out, _ := exec.Command("ldd", p).CombinedOutput()
	return strings.Contains(string(out), "not a dynamic executable") || strings.Contains(string(out), "statically linked")
}

func lock(t testing.TB, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
