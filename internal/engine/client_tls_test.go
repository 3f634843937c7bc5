package engine_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/cert/certtest"
	"github.com/ctsec/ctsec/internal/engine"
	"github.com/ctsec/ctsec/internal/testenv"
)

// TestClientTLS: an engine on tcp:// with TLS, as DOCKER_CERT_PATH and
// DOCKER_TLS_VERIFY set it up: the server is verified against ca.pem, the
// client presents cert.pem; another CA's server is refused.
func TestClientTLS(t *testing.T) {
	// crypto/tls checks the certificates against the wall clock, not the
	// tests' (CTSEC_TEST_NOW): they are made valid around it, whatever
	// the date.
	now := time.Now()
	testenv.Tool(t, "openssl")
	ca := certtest.NewCA(t, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	live := ca.Leaf("localhost", now.AddDate(0, 0, -1), now.AddDate(0, 3, 0))
	pair, err := tls.LoadX509KeyPair(filepath.Join(live, "fullchain.pem"), filepath.Join(live, "privkey.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var clientCerts int
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clientCerts = len(r.TLS.PeerCertificates)
		w.Header().Set("Api-Version", "1.41")
		w.Write([]byte(`{"Version":"20.10.24"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	host := "tcp://localhost:" + srv.URL[strings.LastIndex(srv.URL, ":")+1:]

	certs := t.TempDir()
	copyFile(t, ca.Root, filepath.Join(certs, "ca.pem"))
	copyFile(t, filepath.Join(live, "fullchain.pem"), filepath.Join(certs, "cert.pem"))
	copyFile(t, filepath.Join(live, "privkey.pem"), filepath.Join(certs, "key.pem"))
	t.Setenv("DOCKER_CERT_PATH", certs)
	t.Setenv("DOCKER_TLS_VERIFY", "1")
	t.Setenv("DOCKER_API_VERSION", "")
	c, err := engine.Connect(host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.ServerVersion(context.Background())
	if err != nil || v.Version != "20.10.24" {
		t.Fatalf("over TLS: %v %+v", err, v)
	}
	if clientCerts == 0 {
		t.Errorf("the client presented no certificate")
	}

	// Trusting another CA, the same server is refused.
	other := certtest.NewCA(t, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	copyFile(t, other.Root, filepath.Join(certs, "ca.pem"))
	c2, err := engine.Connect(host)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.ServerVersion(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("server of another CA: err = %v", err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
