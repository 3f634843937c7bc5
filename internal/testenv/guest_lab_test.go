//go:build lab

// Tests of the lab guest itself (scripts/lab.sh test testenv): what every
// other lab test relies on — AppArmor in the kernel, systemd as PID 1,
// dockerd with the busybox image, auditd receiving the kernel's AppArmor
// records, the shares and the ctsec on PATH.
package testenv_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestLabKernelAppArmor(t *testing.T) {
	testenv.Lab(t)
	data, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || strings.TrimSpace(string(data)) != "Y" {
		t.Fatalf("AppArmor enabled = %q, %v; want Y", data, err)
	}
	lsm, err := os.ReadFile("/sys/kernel/security/lsm")
	if err != nil || !strings.Contains(string(lsm), "apparmor") {
		t.Errorf("active LSMs %q, %v: no apparmor", lsm, err)
	}
	// apparmor.service loaded the distribution's policy at boot.
	profiles, err := os.ReadFile("/sys/kernel/security/apparmor/profiles")
	if err != nil || len(profiles) == 0 {
		t.Errorf("no AppArmor profiles loaded: %v", err)
	}
}

func TestLabSystemdRunning(t *testing.T) {
	testenv.Lab(t)
	comm, err := os.ReadFile("/proc/1/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "systemd" {
		t.Fatalf("PID 1 is %q (%v), want systemd", comm, err)
	}
	out, _ := exec.Command("systemctl", "is-system-running").Output()
	if state := strings.TrimSpace(string(out)); state != "running" {
		failed, _ := exec.Command("systemctl", "--failed", "--no-legend", "--plain").Output()
		t.Fatalf("system state %q, want running; failed units:\n%s", state, failed)
	}
}

// TestLabDocker: the guest's dockerd answers, uses AppArmor, and runs the
// busybox image the image build imported (under docker-default).
func TestLabDocker(t *testing.T) {
	testenv.Lab(t)
	docker := testenv.Docker(t)
	if err := exec.Command(docker, "image", "inspect", testenv.BusyboxImage).Run(); err != nil {
		t.Fatalf("%s is not in the guest's dockerd (the image build imports it): %v", testenv.BusyboxImage, err)
	}
	if opts := run(t, docker, "info", "--format", "{{json .SecurityOptions}}"); !strings.Contains(opts, "name=apparmor") {
		t.Errorf("dockerd security options %s: no apparmor", opts)
	}
	out := run(t, docker, "run", "--rm", "--network", "none", testenv.BusyboxImage,
		"sh", "-c", "echo hello from $(uname -s); cat /proc/self/attr/current")
	if !strings.Contains(out, "hello from Linux") || !strings.Contains(out, "docker-default (enforce)") {
		t.Errorf("container printed %q, want its greeting and the docker-default profile", out)
	}
}

// TestLabBusyboxImage: the image the build imported (scripts/lab/guest/
// usr/local/lib/ctsec-lab/busybox-image) holds what testenv.BusyboxRoot
// builds — same paths, types, modes and link targets.
func TestLabBusyboxImage(t *testing.T) {
	testenv.Lab(t)
	docker := testenv.Docker(t)
	id := strings.TrimSpace(run(t, docker, "create", testenv.BusyboxImage, "true"))
	defer exec.Command(docker, "rm", "-f", id).Run()
	exported, err := exec.Command(docker, "export", id).Output()
	if err != nil {
		t.Fatalf("docker export: %v", err)
	}
	got := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(exported))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = describe(h.FileInfo().Mode(), h.Linkname)
	}
	// Docker adds these to every container it creates.
	for _, p := range []string{".dockerenv", "dev/console", "dev/pts", "dev/shm", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf"} {
		delete(got, p)
	}
	want := map[string]string{}
	root := testenv.BusyboxRoot(t, t.TempDir())
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link, _ := os.Readlink(p)
		rel, _ := filepath.Rel(root, p)
		want[rel] = describe(fi.Mode(), link)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var diffs []string
	for p, w := range want {
		if g, ok := got[p]; !ok {
			diffs = append(diffs, "missing "+p)
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: image %s, testenv %s", p, g, w))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("the lab's busybox image and testenv.BusyboxRoot differ (%d):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	t.Logf("%d paths agree", len(want))
}

func describe(m fs.FileMode, link string) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink->" + link
	case m.IsDir():
		return fmt.Sprintf("dir %v", m.Perm()|m&fs.ModeSticky)
	default:
		return fmt.Sprintf("file %v", m.Perm())
	}
}

// TestLabAppArmorDenied: apparmor_parser -r loads a profile into the
// guest's kernel, enforcing: an allowed read works, a denied read fails,
// and auditd's audit.log holds the kernel's DENIED record for it.
func TestLabAppArmorDenied(t *testing.T) {
	testenv.Lab(t)
	parser := testenv.Tool(t, "apparmor_parser")
	busybox := testenv.Tool(t, "busybox")
	dir := t.TempDir()
	allowed, secret := filepath.Join(dir, "allowed"), filepath.Join(dir, "secret")
	for _, f := range []string{allowed, secret} {
		if err := os.WriteFile(f, []byte("content of "+filepath.Base(f)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("ctsec-lab-probe-%d", os.Getpid())
	bin, err := filepath.EvalSymlinks(busybox)
	if err != nil {
		t.Fatal(err)
	}
	profile := fmt.Sprintf("abi <abi/3.0>,\nprofile %s {\n  %s mr,\n  %s r,\n}\n", name, bin, allowed)
	pf := filepath.Join(dir, name)
	if err := os.WriteFile(pf, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, parser, "-r", pf)
	defer exec.Command(parser, "-R", pf).Run()
	loaded, err := os.ReadFile("/sys/kernel/security/apparmor/profiles")
	if err != nil || !strings.Contains(string(loaded), name+" (enforce)") {
		t.Fatalf("%s not loaded in enforce mode: %v", name, err)
	}

	// aa-exec changes to the profile at exec, as runc does for a container.
	if out := run(t, "aa-exec", "-p", name, "--", bin, "cat", allowed); out != "content of allowed\n" {
		t.Errorf("allowed read printed %q", out)
	}
	out, err := exec.Command("aa-exec", "-p", name, "--", bin, "cat", secret).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("denied read: %v, %q; want Permission denied", err, out)
	}
	want := []string{`apparmor="DENIED"`, `operation="open"`, `profile="` + name + `"`, `name="` + secret + `"`, `requested_mask="r"`}
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		log, err := os.ReadFile("/var/log/audit/audit.log")
		if err != nil {
			t.Fatalf("auditd's log: %v", err)
		}
		for _, line := range strings.Split(string(log), "\n") {
			if containsAll(line, want) {
				t.Logf("audit.log: %s", line)
				return
			}
			if strings.Contains(line, name) {
				last = line
			}
		}
	}
	t.Fatalf("no DENIED record for %s in audit.log after 10s (last line naming the profile: %q)", secret, last)
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestLabShares: the checkout is /src (read-only), the shared data is
// where testenv.Shared looks, and the ctsec on PATH is the one built from
// this checkout.
func TestLabShares(t *testing.T) {
	testenv.Lab(t)
	if root := testenv.ModuleRoot(t); root != "/src" {
		t.Errorf("module root %s, want /src", root)
	}
	if err := os.WriteFile("/src/.ctsec-lab-write-probe", nil, 0o644); err == nil {
		os.Remove("/src/.ctsec-lab-write-probe")
		t.Error("/src is writable; the guest must not change the checkout")
	}
	testenv.Shared(t, "conformance")
	ctsec, err := exec.LookPath("ctsec")
	if err != nil {
		t.Fatal(err)
	}
	if out := run(t, ctsec, "version"); !strings.Contains(out, "lab-") {
		t.Errorf("ctsec version on PATH (%s): %q, want the lab build", ctsec, out)
	}
}
