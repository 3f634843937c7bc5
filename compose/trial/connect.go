package trial

import (
	"fmt"
	"path/filepath"

	"github.com/moby/moby/client"

	"github.com/ctsec/ctsec/internal/engine"
)

// Connect returns moby's client for t. Trial runs create, start, watch and
// remove containers and import images, which ctsec's own engine.Client
// (reads, a restart, an exec) does not do; compose is only in the default
// build, so the lean one does not link this client.
func Connect(t engine.Target) (*client.Client, error) {
	r, err := t.Resolve()
	if err != nil {
		return nil, err
	}
	opts := []client.Opt{client.FromEnv}
	switch {
	case r.Dial != nil:
		// The URL host is a placeholder: every connection goes through
		// ssh and `docker system dial-stdio`.
		opts = append(opts, client.WithHost("http://docker.example.com"), client.WithDialContext(r.Dial))
	case r.Host != "":
		opts = append(opts, client.WithHost(r.Host))
	}
	if r.TLSDir != "" {
		opts = append(opts, client.WithTLSClientConfig(filepath.Join(r.TLSDir, "ca.pem"), filepath.Join(r.TLSDir, "cert.pem"), filepath.Join(r.TLSDir, "key.pem")))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Docker engine: %w", err)
	}
	return c, nil
}
