package cert

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"time"
)

// sslRequest is PostgreSQL's SSLRequest message: length 8, code 80877103
// (protocol docs, "SSL Session Encryption").
var sslRequest = func() []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[0:4], 8)
	binary.BigEndian.PutUint32(b[4:8], 80877103)
	return b
}()

// Presented is the certificate a service presented.
type Presented struct {
	Addr    string `json:"addr"`
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
}

// Probe connects to addr, asks for TLS the way the service expects it
// (starttls "postgres" sends the SSLRequest first) and returns the leaf
// certificate it presents. The chain is not judged here: Load did that;
// the probe only asks which certificate the service now uses.
func Probe(ctx context.Context, addr, starttls, serverName string) (Presented, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Presented{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	} else {
		conn.SetDeadline(time.Now().Add(10 * time.Second)) // elapsed: a bound on the exchange
	}
	switch starttls {
	case "":
	case "postgres":
		if _, err := conn.Write(sslRequest); err != nil {
			return Presented{}, fmt.Errorf("sending PostgreSQL's SSLRequest: %w", err)
		}
		var answer [1]byte
		if _, err := io.ReadFull(conn, answer[:]); err != nil {
			return Presented{}, fmt.Errorf("reading the answer to SSLRequest: %w", err)
		}
		if answer[0] != 'S' {
			return Presented{}, fmt.Errorf("the server answered SSLRequest with %q: it does not offer TLS (is ssl = on?)", answer[0])
		}
	default:
		return Presented{}, fmt.Errorf("starttls %q: ctsec knows postgres", starttls)
	}
	tc := tls.Client(conn, &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		return Presented{}, fmt.Errorf("TLS handshake: %w", err)
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return Presented{}, fmt.Errorf("the server presented no certificate")
	}
	sum := sha256.Sum256(certs[0].Raw)
	return Presented{Addr: addr, Subject: certs[0].Subject.String(), SHA256: hex.EncodeToString(sum[:])}, nil
}

// WaitFor probes until the service presents the certificate with
// fingerprint want, or the time is up: a restarted service takes a moment
// to listen again.
func WaitFor(ctx context.Context, addr, starttls, serverName, want string, within time.Duration) (Presented, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last Presented
	var lastErr error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		last, lastErr = Probe(pctx, addr, starttls, serverName)
		pcancel()
		if lastErr == nil && last.SHA256 == want {
			return last, nil
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("the service at %s did not answer TLS within %s: %w", addr, within, lastErr)
			}
			return last, fmt.Errorf("the service at %s still presents %s (sha256 %s…), not the new certificate, after %s", addr, last.Subject, last.SHA256[:16], within)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
