package testenv

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Service images behave like real images in the ways that break hardening
// (issue 14): each is the busybox root plus testsvc (internal/testenv/
// testsvc), imported with `docker import`, whose entrypoint does one thing
// real entrypoints do before serving HTTP on port 8080.
const (
	// WritesEtcImage writes /etc/app/conf at start (config templating);
	// a read-only root without a tmpfs there stops it. Has a healthcheck.
	WritesEtcImage = "ctsec-test/writes-etc:1"
	// DropperImage chowns /data and setuid()s to uid 1000, as gosu-style
	// entrypoints do: it needs CHOWN and SETUID and nothing else. No
	// healthcheck: health is its port accepting connections.
	DropperImage = "ctsec-test/dropper:1"
	// FileCapImage runs as USER 1000 a binary carrying the file capability
	// cap_net_raw+ep (set with setcap before the import; docker import keeps
	// the security.capability xattr) and opens a raw socket: it needs
	// NET_RAW in the bounding set, and no-new-privileges breaks it.
	FileCapImage = "ctsec-test/filecap:1"
	// HogImage allocates about 200 MB and keeps it.
	HogImage = "ctsec-test/hog:1"
	// ShippedTmpImage ships /tmp/seed.txt and needs it: a tmpfs on /tmp
	// hides it.
	ShippedTmpImage = "ctsec-test/shipped-tmp:1"
)

const healthcheck = `HEALTHCHECK --interval=1s --timeout=3s --start-period=1s --retries=3 CMD ["/bin/testsvc","probe","http://127.0.0.1:8080/"]`

type serviceImage struct {
	changes []string
	setup   func(t testing.TB, root, svc string)
}

var serviceImages = map[string]serviceImage{
	WritesEtcImage: {changes: []string{`CMD ["/bin/testsvc","serve","-write","/etc/app/conf"]`, "EXPOSE 8080", healthcheck}},
	DropperImage: {
		changes: []string{`CMD ["/bin/testsvc","serve","-chown","/data","-drop","1000"]`, "EXPOSE 8080"},
		setup: func(t testing.TB, root, _ string) {
			mkdir(t, filepath.Join(root, "data"))
			appendFile(t, filepath.Join(root, "etc", "passwd"), "app:x:1000:1000:app:/data:/bin/sh\n")
		},
	},
	FileCapImage: {
		changes: []string{"USER 1000", `CMD ["/bin/pinger","serve","-rawsocket"]`, "EXPOSE 8080", healthcheck},
		setup: func(t testing.TB, root, svc string) {
			pinger := filepath.Join(root, "bin", "pinger")
			copyExec(t, svc, pinger)
			setcap := Tool(t, "setcap")
			if out, err := exec.Command(setcap, "cap_net_raw+ep", pinger).CombinedOutput(); err != nil {
				t.Fatalf("setcap on the test image's binary: %v: %s", err, out)
			}
		},
	},
	HogImage: {changes: []string{`CMD ["/bin/testsvc","serve","-alloc","200"]`, "EXPOSE 8080", healthcheck}},
	ShippedTmpImage: {
		changes: []string{`CMD ["/bin/testsvc","serve","-need","/tmp/seed.txt"]`, "EXPOSE 8080", healthcheck},
		setup: func(t testing.TB, root, _ string) {
			if err := os.WriteFile(filepath.Join(root, "tmp", "seed.txt"), []byte("shipped with the image\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// ServiceImage makes sure one of the service images exists in the engine
// and returns its name. An image built from older sources is rebuilt.
func ServiceImage(t testing.TB, name string) string {
	t.Helper()
	spec, ok := serviceImages[name]
	if !ok {
		t.Fatalf("no test image %s", name)
	}
	docker := Docker(t)
	svc := TestSvc(t)
	sum := sha256.New()
	data, err := os.ReadFile(svc)
	if err != nil {
		t.Fatal(err)
	}
	sum.Write(data)
	sum.Write([]byte(strings.Join(spec.changes, "\n")))
	hash := hex.EncodeToString(sum.Sum(nil))[:16]
	current := func() bool {
		out, err := exec.Command(docker, "image", "inspect", "--format", `{{index .Config.Labels "ctsec.test.hash"}}`, name).Output()
		return err == nil && strings.TrimSpace(string(out)) == hash
	}
	if current() {
		return name
	}
	unlock := lock(t, filepath.Join(os.TempDir(), "ctsec-testenv-images.lock"))
	defer unlock()
	if current() {
		return name
	}
	Root(t) // setcap and a root-owned image tree
	root := BusyboxRoot(t, t.TempDir())
	copyExec(t, svc, filepath.Join(root, "bin", "testsvc"))
	if spec.setup != nil {
		spec.setup(t, root, svc)
	}
	args := []string{"import"}
	for _, c := range append(spec.changes, "LABEL ctsec.test.hash="+hash) {
		args = append(args, "--change", c)
	}
	cmd := exec.Command(docker, append(args, "-", name)...)
	cmd.Stdin = bytes.NewReader(tarWithXattrs(t, root))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("importing %s: %v: %s", name, err, out)
	}
	return name
}

var (
	testSvcOnce sync.Once
	testSvcPath string
	testSvcErr  error
)

// TestSvc builds testsvc, statically, once per test binary.
func TestSvc(t testing.TB) string {
	t.Helper()
	testSvcOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ctsec-testsvc-")
		if err != nil {
			testSvcErr = err
			return
		}
		testSvcPath = filepath.Join(dir, "testsvc")
		cmd := exec.Command("go", "build", "-trimpath", "-o", testSvcPath, "./internal/testenv/testsvc")
		cmd.Dir = ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			testSvcErr = errors.New(err.Error() + ": " + string(out))
		}
	})
	if testSvcErr != nil {
		t.Fatalf("building testsvc: %v", testSvcErr)
	}
	return testSvcPath
}

// tarWithXattrs is the tree as a tar stream that keeps owners, modes,
// symlinks and the security.capability attribute (archive/tar's AddFS keeps
// none of the last two).
func tarWithXattrs(t testing.TB, root string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		}
		buf := make([]byte, 64)
		if n, err := syscall.Getxattr(p, "security.capability", buf); err == nil && n > 0 {
			hdr.Format = tar.FormatPAX
			hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(buf[:n])}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(data)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatalf("building the image tar: %v", err)
	}
	return buf.Bytes()
}

func mkdir(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t testing.TB, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func copyExec(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}
