package cert

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ctsec/ctsec/cert/certtest"
	"github.com/ctsec/ctsec/internal/testenv"
)

func TestLoadChecksThePair(t *testing.T) {
	now := testenv.Now(t)
	ca := certtest.NewCA(t, now.AddDate(-1, 0, 0), now.AddDate(10, 0, 0))
	good := ca.Leaf("db.example.test", now.Add(-24*time.Hour), now.AddDate(0, 3, 0))
	o := LoadOptions{CAFile: ca.Root, Now: now}

	p, err := Load(Sources{Dir: good}, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "CN=db.example.test" || len(p.Path) != 3 || p.DNSNames[0] != "db.example.test" || len(p.Warnings) != 0 {
		t.Fatalf("pair: %+v", p)
	}
	// cert.pem + chain.pem when there is no fullchain.pem.
	os.Remove(filepath.Join(good, "fullchain.pem"))
	if p2, err := Load(Sources{Dir: good}, o); err != nil || p2.SHA256 != p.SHA256 || !strings.Contains(string(p2.Chain), "BEGIN CERTIFICATE") {
		t.Fatalf("cert.pem + chain.pem: %v", err)
	}

	refused := func(name string, src Sources, o LoadOptions, want string) {
		t.Helper()
		_, err := Load(src, o)
		var ce *CheckError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line check error saying %q", name, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE KEY-----") {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
	refused("mismatched key", Sources{Dir: good, Key: ca.OtherKey()}, o, "does not belong to the certificate")
	expired := ca.Leaf("old.example.test", now.AddDate(0, -3, 0), now.Add(-time.Hour))
	refused("expired", Sources{Dir: expired}, o, "expired at")
	future := ca.Leaf("new.example.test", now.Add(48*time.Hour), now.AddDate(0, 3, 0))
	refused("not yet valid", Sources{Dir: future}, o, "not valid before")
	noChain := ca.Leaf("lone.example.test", now.Add(-time.Hour), now.AddDate(0, 3, 0))
	refused("no intermediate", Sources{Dir: noChain, Cert: filepath.Join(noChain, "cert.pem")}, o, "does not verify to a trusted root")
	refused("untrusted root", Sources{Dir: good}, LoadOptions{Now: now}, "does not verify")
	keyInChain := filepath.Join(t.TempDir(), "chain.pem")
	k, _ := os.ReadFile(filepath.Join(good, "privkey.pem"))
	c, _ := os.ReadFile(filepath.Join(good, "cert.pem"))
	os.WriteFile(keyInChain, append(c, k...), 0o600)
	refused("key in the certificate file", Sources{Dir: good, Cert: keyInChain}, o, "is a private key")
	notKey := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(notKey, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"), 0o600)
	refused("garbage key", Sources{Dir: good, Key: notKey}, o, "not a PEM private key")

	soon := ca.Leaf("soon.example.test", now.Add(-time.Hour), now.Add(3*24*time.Hour))
	if p, err := Load(Sources{Dir: soon}, o); err != nil || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "expires in") {
		t.Errorf("expiring soon: %+v %v", p, err)
	}
	if _, err := Load(Sources{Dir: filepath.Join(t.TempDir(), "none")}, o); err == nil || errors.As(err, new(*CheckError)) {
		t.Errorf("missing directory: %v, want a read error", err)
	}
}

func TestHookScript(t *testing.T) {
	s := string(HookScript("pg", "/etc/letsencrypt/live/db.example.test", "/usr/local/bin/ctsec",
		[]string{"--container", "pg; rm -rf /", "--uid", "70"}))
	for _, want := range []string{
		"#!/bin/sh\n",
		`[ "${RENEWED_LINEAGE:-}" = /etc/letsencrypt/live/db.example.test ] || exit 0`,
		`exec /usr/local/bin/ctsec tls deploy --write --cert-dir "$RENEWED_LINEAGE" --container 'pg; rm -rf /' --uid 70`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("hook lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("x", 65)} {
		if _, err := HookPath(bad); err == nil {
			t.Errorf("hook name %q accepted", bad)
		}
	}
}
