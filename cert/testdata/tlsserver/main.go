// Command tlsserver is the TLS service the certificate tests deploy into:
// busybox has no TLS server, so the tests build this one statically and
// run it in a container. It behaves as PostgreSQL does where the tests
// look: it refuses a private key others may read, or owned by anyone but
// its own user or root (PostgreSQL's check_ssl_key_file), answers
// PostgreSQL's SSLRequest with 'S' before the handshake when -starttls
// postgres, and reads its certificate and key again on SIGHUP (pg_ctl
// reload), keeping the old ones if the new do not load.
package main

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

func main() {
	certFile := flag.String("cert", "/certs/server.crt", "certificate chain")
	keyFile := flag.String("key", "/certs/server.key", "private key")
	addr := flag.String("addr", ":8443", "listen address")
	starttls := flag.String("starttls", "", "postgres: expect an SSLRequest first")
	flag.Parse()

	var mu sync.Mutex
	var current *tls.Certificate
	load := func() error {
		if err := checkKey(*keyFile); err != nil {
			return err
		}
		c, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return err
		}
		mu.Lock()
		current = &c
		mu.Unlock()
		return nil
	}
	// The first files may come after the container starts.
	for i := 0; ; i++ {
		err := load()
		if err == nil {
			break
		}
		if i == 600 {
			log.Fatalf("no usable certificate: %v", err)
		}
		if i%50 == 0 {
			log.Printf("waiting for a usable certificate: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if err := load(); err != nil {
				log.Printf("reload failed, keeping the previous certificate: %v", err)
				continue
			}
			log.Printf("reloaded")
		}
	}()
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		return current, nil
	}}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", *addr)
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c, cfg, *starttls)
	}
}

func serve(c net.Conn, cfg *tls.Config, starttls string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if starttls == "postgres" {
		var req [8]byte
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		if binary.BigEndian.Uint32(req[0:4]) != 8 || binary.BigEndian.Uint32(req[4:8]) != 80877103 {
			return
		}
		if _, err := c.Write([]byte{'S'}); err != nil {
			return
		}
	}
	tc := tls.Server(c, cfg)
	if err := tc.Handshake(); err != nil {
		return
	}
	w := bufio.NewWriter(tc)
	fmt.Fprintln(w, "hello")
	w.Flush()
}

// checkKey is PostgreSQL's rule for the key file (be-secure-common.c): it
// must belong to the server's user or to root, and then be 0600 or 0640 at
// most respectively.
func checkKey(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	uid := int(sys.Uid)
	mode := st.Mode().Perm()
	switch {
	case uid != os.Geteuid() && uid != 0:
		return errors.New("private key file must be owned by the database user or root")
	case uid == os.Geteuid() && mode&0o077 != 0:
		return fmt.Errorf("private key file has group or world access (%04o)", mode)
	case uid == 0 && mode&0o037 != 0:
		return fmt.Errorf("private key file owned by root has group write or world access (%04o)", mode)
	}
	return nil
}
