// Package engine connects to a Docker Engine the way the docker CLI does:
// --context, --host, DOCKER_HOST, DOCKER_CONTEXT, the current docker context,
// then the local socket; ssh:// hosts through `ssh … docker system
// dial-stdio`; with API version negotiation so Debian 12's dockerd 20.10
// (API 1.41) works.
package engine

import (
	"context"
	"fmt"
	"time"
)

// Connect returns a client for host ("" = DOCKER_HOST, the current docker
// context, or the default socket). It does not contact the engine; Describe does.
func Connect(host string) (*Client, error) {
	return ConnectTarget(Target{Host: host})
}

// Summary is what doctor and reports say about an engine.
type Summary struct {
	Host            string   `json:"host"`
	Version         string   `json:"version"`
	APIVersion      string   `json:"api_version"`
	SecurityOptions []string `json:"security_options"`
	DefaultRuntime  string   `json:"default_runtime,omitempty"`
}

// Describe asks the engine for its version and security options.
func Describe(ctx context.Context, c *Client) (Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := c.ServerVersion(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("asking the Docker engine at %s for its version: %w", c.DaemonHost(), err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("asking the Docker engine at %s for its info: %w", c.DaemonHost(), err)
	}
	return Summary{
		Host:            c.DaemonHost(),
		Version:         v.Version,
		APIVersion:      c.APIVersion(),
		SecurityOptions: info.SecurityOptions,
		DefaultRuntime:  info.DefaultRuntime,
	}, nil
}
