// Package cert is the certificate step after every renewal: a certificate
// and its key (a certbot live directory) checked, copied into a container's
// volume with the owner and modes the service needs, the service reloaded
// or restarted, and the service asked over TLS whether it now presents the
// new certificate. It reads as a pipeline:
//
//	cert.go    facts: the files, parsed and checked (key matches, chain
//	           complete to a trusted root, valid now by the clock)
//	plan.go    where the files go: the container's mount, host paths,
//	           owner and modes, what changes
//	deploy.go  apply: backed up in the journal, written atomically inside
//	           the mount, the service reloaded
//	verify.go  verify: a TLS handshake with the service (PostgreSQL's
//	           SSLRequest first when asked) shows the new certificate, or
//	           everything is put back
//	hook.go    certbot's deploy hook that runs it after each renewal
package cert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/rootfs"
)

// maxPEM bounds a certificate or key file: a chain is a few KiB.
const maxPEM = 1 << 20

// ExpiresSoon is how close to expiry a certificate is worth a warning.
const ExpiresSoon = 14 * 24 * time.Hour

// Pair is a certificate chain and its private key, as read and checked.
type Pair struct {
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// Chain is the PEM written as the certificate: the leaf, then the
	// intermediates (certbot's fullchain.pem).
	Chain []byte `json:"-"`
	// Key is the private key's PEM, as read. Never logged or shown.
	Key []byte `json:"-"`

	Subject   string    `json:"subject"`
	DNSNames  []string  `json:"dns_names,omitempty"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// SHA256 is the leaf certificate's fingerprint, what verification
	// compares with the certificate the service presents.
	SHA256 string `json:"sha256"`
	// Path is the chain as verified: leaf first, root last.
	Path     []string `json:"path"`
	Warnings []string `json:"warnings,omitempty"`

	leaf *x509.Certificate
}

// CheckError is a pair that must not be deployed: the key does not match,
// the chain is incomplete, the certificate is not valid now.
type CheckError struct {
	File string
	Err  error
}

func (e *CheckError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Sources names the files of a certificate directory: certbot's live
// layout by default.
type Sources struct {
	Dir string
	// Cert is the chain to deploy (default fullchain.pem, else cert.pem
	// followed by chain.pem); Key the private key (default privkey.pem).
	Cert, Key string
}

// LoadOptions say what the chain must verify against.
type LoadOptions struct {
	// Roots are the trusted roots; nil is the system's pool plus CAFile.
	Roots *x509.CertPool
	// CAFile adds roots (a private CA).
	CAFile string
	Now    time.Time
}

// Load reads and checks a pair: the certificate parses, the key is the
// certificate's, the chain verifies to a trusted root at now, and the
// certificate is valid now. Whatever is wrong is a *CheckError naming the
// file; a file that cannot be read is a plain error.
func Load(src Sources, o LoadOptions) (*Pair, error) {
	chainFile, chain, err := readChain(src)
	if err != nil {
		return nil, err
	}
	keyFile := src.Key
	if keyFile == "" {
		keyFile = filepath.Join(src.Dir, "privkey.pem")
	}
	keyPEM, err := rootfs.ReadRegular(keyFile, maxPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the private key: %w", err)
	}
	p := &Pair{CertFile: chainFile, KeyFile: keyFile, Chain: chain, Key: keyPEM}
	certs, err := parseCerts(chainFile, chain)
	if err != nil {
		return nil, err
	}
	p.leaf = certs[0]
	leaf := p.leaf
	sum := sha256.Sum256(leaf.Raw)
	p.SHA256 = hex.EncodeToString(sum[:])
	p.Subject, p.Issuer = leaf.Subject.String(), leaf.Issuer.String()
	p.DNSNames, p.NotBefore, p.NotAfter = leaf.DNSNames, leaf.NotBefore.UTC(), leaf.NotAfter.UTC()

	key, err := parseKey(keyPEM)
	if err != nil {
		// The parser's words may quote the file: say only what is wrong.
		return nil, &CheckError{File: keyFile, Err: errors.New("not a PEM private key (PKCS#8, PKCS#1 or SEC 1)")}
	}
	if !samePublic(leaf.PublicKey, key.Public()) {
		return nil, &CheckError{File: keyFile, Err: fmt.Errorf("the private key does not belong to the certificate in %s (%s): its public key differs", chainFile, p.Subject)}
	}
	now := o.Now
	switch {
	case now.Before(leaf.NotBefore):
		return nil, &CheckError{File: chainFile, Err: fmt.Errorf("the certificate is not valid before %s (now %s)", p.NotBefore.Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case !now.Before(leaf.NotAfter):
		return nil, &CheckError{File: chainFile, Err: fmt.Errorf("the certificate expired at %s (now %s)", p.NotAfter.Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	case leaf.NotAfter.Sub(now) < ExpiresSoon:
		p.Warnings = append(p.Warnings, fmt.Sprintf("the certificate expires in %s, at %s", leaf.NotAfter.Sub(now).Round(time.Hour), p.NotAfter.Format(time.RFC3339)))
	}
	roots := o.Roots
	if roots == nil {
		if roots, err = x509.SystemCertPool(); err != nil || roots == nil {
			roots = x509.NewCertPool()
		}
	}
	if o.CAFile != "" {
		ca, err := rootfs.ReadRegular(o.CAFile, maxPEM)
		if err != nil {
			return nil, fmt.Errorf("reading --ca: %w", err)
		}
		cas, err := parseCerts(o.CAFile, ca)
		if err != nil {
			return nil, err
		}
		roots = roots.Clone()
		for _, c := range cas {
			roots.AddCert(c)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return nil, &CheckError{File: chainFile, Err: fmt.Errorf("the chain does not verify to a trusted root (is an intermediate missing? certbot's fullchain.pem has them): %w", err)}
	}
	for _, c := range chains[0] {
		p.Path = append(p.Path, c.Subject.String())
		if c != leaf && !c.IsCA {
			return nil, &CheckError{File: chainFile, Err: fmt.Errorf("%s in the chain is not a CA", c.Subject)}
		}
	}
	for _, c := range certs[1:] {
		if now.After(c.NotAfter) {
			return nil, &CheckError{File: chainFile, Err: fmt.Errorf("the intermediate %s expired at %s", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))}
		}
	}
	return p, nil
}

// readChain reads the chain to deploy: fullchain.pem, or cert.pem and
// chain.pem joined.
func readChain(src Sources) (string, []byte, error) {
	if src.Cert != "" {
		b, err := rootfs.ReadRegular(src.Cert, maxPEM)
		if err != nil {
			return "", nil, fmt.Errorf("reading the certificate: %w", err)
		}
		return src.Cert, b, nil
	}
	full := filepath.Join(src.Dir, "fullchain.pem")
	if b, err := rootfs.ReadRegular(full, maxPEM); err == nil {
		return full, b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("reading the certificate: %w", err)
	}
	leaf := filepath.Join(src.Dir, "cert.pem")
	b, err := rootfs.ReadRegular(leaf, maxPEM)
	if err != nil {
		return "", nil, fmt.Errorf("reading the certificate (no fullchain.pem in %s): %w", src.Dir, err)
	}
	chain, err := rootfs.ReadRegular(filepath.Join(src.Dir, "chain.pem"), maxPEM)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("reading the chain: %w", err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return leaf, append(b, chain...), nil
}

// parseCerts reads every CERTIFICATE block of a PEM file, leaf first.
func parseCerts(file string, data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "PRIVATE KEY" || strings.HasSuffix(b.Type, " PRIVATE KEY") {
			return nil, &CheckError{File: file, Err: fmt.Errorf("block %d is a private key: a key has no place in the certificate file", n)}
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, &CheckError{File: file, Err: fmt.Errorf("certificate %d does not parse: %v", n, err)}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &CheckError{File: file, Err: errors.New("no PEM certificate in the file")}
	}
	return out, nil
}

// parseKey reads the first private key block.
func parseKey(data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no private key")
		}
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("not a signing key")
		}
		return s, nil
	}
}

// samePublic compares two public keys.
func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}
