// Package certtest makes certificate chains for tests with openssl, the
// way an operator's private CA or a certbot live directory would hold
// them: a root, an intermediate, and leaves with chosen validity, written
// in certbot's layout (cert.pem, chain.pem, fullchain.pem, privkey.pem).
// Dates come from the test's clock, so the chains are valid when the tests
// say it is, not when they run.
package certtest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// CA is a root and an intermediate made by openssl.
type CA struct {
	t   testing.TB
	dir string
	// Root is the root certificate (for --ca); Intermediate the one that
	// signs leaves.
	Root, Intermediate string
	n                  int
}

const config = `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = %s
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = $ENV::CTSEC_SAN
`

// NewCA makes a root and an intermediate valid from..to.
func NewCA(t testing.TB, from, to time.Time) *CA {
	t.Helper()
	testenv.Tool(t, "openssl")
	dir := t.TempDir()
	ca := &CA{t: t, dir: dir}
	os.MkdirAll(filepath.Join(dir, "new"), 0o700)
	os.WriteFile(filepath.Join(dir, "index.txt"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "serial"), []byte("1000\n"), 0o600)
	os.WriteFile(ca.cfg(), []byte(fmt.Sprintf(config, dir)), 0o600)
	rootKey := ca.key("root")
	ca.run("", "req", "-new", "-key", rootKey, "-subj", "/CN=ctsec test root", "-out", ca.path("root.csr"))
	ca.Root = ca.path("root.pem")
	ca.run("", "ca", "-batch", "-config", ca.cfg(), "-selfsign", "-keyfile", rootKey, "-in", ca.path("root.csr"),
		"-out", ca.Root, "-extensions", "v3_ca", "-notext", "-startdate", stamp(from), "-enddate", stamp(to))
	interKey := ca.key("inter")
	ca.run("", "req", "-new", "-key", interKey, "-subj", "/CN=ctsec test intermediate", "-out", ca.path("inter.csr"))
	ca.Intermediate = ca.path("inter.pem")
	ca.run("", "ca", "-batch", "-config", ca.cfg(), "-cert", ca.Root, "-keyfile", rootKey, "-in", ca.path("inter.csr"),
		"-out", ca.Intermediate, "-extensions", "v3_ca", "-notext", "-startdate", stamp(from), "-enddate", stamp(to))
	return ca
}

func (ca *CA) cfg() string          { return filepath.Join(ca.dir, "ca.cnf") }
func (ca *CA) path(n string) string { return filepath.Join(ca.dir, n) }

func stamp(t time.Time) string {
	t = t.UTC()
	if t.Year() >= 2050 {
		return t.Format("20060102150405Z")
	}
	return t.Format("060102150405Z")
}

func (ca *CA) key(name string) string {
	p := ca.path(name + ".key")
	ca.run("", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p)
	return p
}

func (ca *CA) run(san string, args ...string) {
	ca.t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Env = append(os.Environ(), "CTSEC_SAN="+san)
	if san == "" {
		cmd.Env = append(os.Environ(), "CTSEC_SAN=DNS:unused.invalid")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		ca.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Leaf issues a certificate for dnsName valid from..to and writes it in
// certbot's layout in a new live directory, which it returns.
func (ca *CA) Leaf(dnsName string, from, to time.Time) string {
	ca.t.Helper()
	ca.n++
	live := filepath.Join(ca.dir, fmt.Sprintf("live-%d", ca.n))
	os.MkdirAll(live, 0o700)
	key := filepath.Join(live, "privkey.pem")
	ca.run("", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key)
	csr := filepath.Join(live, "req.csr")
	ca.run("", "req", "-new", "-key", key, "-subj", "/CN="+dnsName, "-out", csr)
	leaf := filepath.Join(live, "cert.pem")
	ca.run("DNS:"+dnsName, "ca", "-batch", "-config", ca.cfg(), "-cert", ca.Intermediate, "-keyfile", ca.path("inter.key"),
		"-in", csr, "-out", leaf, "-extensions", "v3_leaf", "-notext", "-startdate", stamp(from), "-enddate", stamp(to))
	os.Remove(csr)
	l, _ := os.ReadFile(leaf)
	i, _ := os.ReadFile(ca.Intermediate)
	os.WriteFile(filepath.Join(live, "chain.pem"), i, 0o644)
	os.WriteFile(filepath.Join(live, "fullchain.pem"), append(l, i...), 0o644)
	return live
}

// OtherKey writes a fresh private key that belongs to no certificate.
func (ca *CA) OtherKey() string {
	ca.t.Helper()
	ca.n++
	p := ca.path(fmt.Sprintf("other-%d.key", ca.n))
	ca.run("", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p)
	return p
}

// Service is a TLS service in a container, run as uid 70 like PostgreSQL's
// image: the test server (testdata/tlsserver, built statically and
// imported into a busybox image) reads /certs/server.crt and
// /certs/server.key from a fresh named volume, answers PostgreSQL's
// SSLRequest, and reloads on SIGHUP. It listens on 8443, published on a
// loopback port.
type Service struct {
	Container, Volume, Image string
}

// StartService builds the image (once per test binary) and starts the
// container; everything is removed when the test ends.
func StartService(t testing.TB) Service {
	t.Helper()
	docker := testenv.Docker(t)
	image := serviceImage(t, docker)
	var b [4]byte
	rand.Read(b[:])
	sfx := hex.EncodeToString(b[:])
	s := Service{Container: "ctsec-tls-" + sfx, Volume: "ctsec-tls-" + sfx, Image: image}
	if out, err := exec.Command(docker, "volume", "create", s.Volume).CombinedOutput(); err != nil {
		t.Fatalf("docker volume create: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command(docker, "rm", "-f", s.Container).Run()
		exec.Command(docker, "volume", "rm", "-f", s.Volume).Run()
	})
	out, err := exec.Command(docker, "run", "-d", "--name", s.Container, "--user", "70:70", "-v", s.Volume+":/certs",
		"-p", "127.0.0.1::8443", image, "/tlsserver", "-starttls", "postgres").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	return s
}

var imageOnce sync.Once
var imageName string

func serviceImage(t testing.TB, docker string) string {
	t.Helper()
	imageOnce.Do(func() {
		dir := t.TempDir()
		root := testenv.BusyboxRoot(t, filepath.Join(dir, "root"))
		bin := filepath.Join(root, "tlsserver")
		build := exec.Command("go", "build", "-o", bin, "./cert/testdata/tlsserver")
		build.Dir = testenv.ModuleRoot(t)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the test TLS server: %v: %s", err, out)
		}
		data, _ := os.ReadFile(bin)
		sum := sha256.Sum256(data)
		name := "ctsec-test/tlsserver:" + hex.EncodeToString(sum[:6])
		if exec.Command(docker, "image", "inspect", name).Run() != nil {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			if err := tw.AddFS(os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			tw.Close()
			imp := exec.Command(docker, "import", "-", name)
			imp.Stdin = &buf
			if out, err := imp.CombinedOutput(); err != nil {
				t.Fatalf("docker import: %v: %s", err, out)
			}
		}
		imageName = name
	})
	if imageName == "" {
		t.Fatal("the test TLS server image could not be built")
	}
	return imageName
}
