package engine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/network"
)

// Client speaks the Docker Engine API for the calls ctsec makes outside
// compose: reads for bench, status and doctor, a restart and an exec for
// changes. It is ctsec's own rather than moby's client because linking
// that one costs every command of the lean build about a fifth of its
// start-up (its image-reference regexps and OpenTelemetry compile in their
// init; docs/startup.md). The types are moby's API types.
type Client struct {
	host      string // as the user named it, for messages
	base      string // URL prefix: scheme and authority
	http      *http.Client
	transport *http.Transport

	mu      sync.Mutex
	version string // DOCKER_API_VERSION, or negotiated on the first call
}

// MaxAPIVersion is the newest API version the Client asks for; an older
// engine's own version is used instead (Debian 12's dockerd 20.10 speaks
// 1.41). Every call it makes exists since 1.24.
const MaxAPIVersion = "1.51"

// DefaultHost is the engine's local socket.
const DefaultHost = "unix:///var/run/docker.sock"

// maxResponse bounds what one answer may be: an engine with ten thousand
// containers lists them in a few MB.
const maxResponse = 256 << 20

// newClient builds a client for a resolved endpoint.
func newClient(host string, dial func(ctx context.Context, network, addr string) (net.Conn, error), tlsDir string) (*Client, error) {
	if host == "" {
		host = DefaultHost
	}
	c := &Client{host: host}
	if v := os.Getenv("DOCKER_API_VERSION"); v != "" {
		c.version = strings.TrimPrefix(v, "v")
		if !validVersion(c.version) {
			return nil, fmt.Errorf("DOCKER_API_VERSION=%q: want a version such as 1.41", v)
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	switch {
	case dial != nil: // ssh: every connection is a `docker system dial-stdio`
		tr.DialContext = dial
		c.base = "http://docker.example.com"
	default:
		u, err := url.Parse(host)
		if err != nil || u.Scheme == "" {
			return nil, fmt.Errorf("engine address %q: want unix:///path, tcp://host:port or ssh://[user@]host", host)
		}
		switch u.Scheme {
		case "unix":
			path := u.Path
			if path == "" {
				path = u.Opaque
			}
			if path == "" {
				return nil, fmt.Errorf("engine address %q: no socket path", host)
			}
			var d net.Dialer
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", path)
			}
			c.base = "http://docker.sock"
		case "tcp", "http", "https":
			if u.Host == "" {
				return nil, fmt.Errorf("engine address %q: no host", host)
			}
			c.base = "http://" + u.Host
			if u.Scheme == "https" {
				c.base = "https://" + u.Host
			}
		default:
			return nil, fmt.Errorf("engine address %q: scheme %q is not supported (unix, tcp, ssh)", host, u.Scheme)
		}
	}
	cfg, err := tlsConfig(tlsDir)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		tr.TLSClientConfig = cfg
		c.base = "https://" + strings.TrimPrefix(strings.TrimPrefix(c.base, "http://"), "https://")
	}
	c.transport = tr
	c.http = &http.Client{Transport: tr}
	return c, nil
}

// tlsConfig loads a context's TLS directory or, as the docker CLI does,
// DOCKER_CERT_PATH (verifying the server unless DOCKER_TLS_VERIFY is empty).
func tlsConfig(dir string) (*tls.Config, error) {
	verify := true
	if dir == "" {
		if dir = os.Getenv("DOCKER_CERT_PATH"); dir == "" {
			return nil, nil
		}
		verify = os.Getenv("DOCKER_TLS_VERIFY") != ""
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !verify}
	if ca, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err == nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("reading the engine's CA %s: no certificate in it", filepath.Join(dir, "ca.pem"))
		}
		cfg.RootCAs = pool
	} else if verify {
		return nil, fmt.Errorf("reading the engine's CA: %w", err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := os.Stat(certFile); err == nil {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate %s: %w", certFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// DaemonHost is the engine's address as configured.
func (c *Client) DaemonHost() string { return c.host }

// APIVersion is the API version the calls use: negotiated on the first
// call, "" before it.
func (c *Client) APIVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Close drops the idle connections (for ssh, the ssh processes).
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// APIError is an answer other than success, with the engine's message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("the engine answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// IsNotFound says whether err is the engine's 404 (a container or image
// removed between a list and its inspect).
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// negotiate asks /_ping for the engine's API version once, and uses the
// lower of it and MaxAPIVersion.
func (c *Client) negotiate(ctx context.Context) (string, error) {
	c.mu.Lock()
	v := c.version
	c.mu.Unlock()
	if v != "" {
		return v, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/_ping", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("connecting to the Docker engine at %s: %w", c.host, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	resp.Body.Close()
	v = MaxAPIVersion
	if sv := resp.Header.Get("Api-Version"); sv != "" {
		if !validVersion(sv) {
			return "", fmt.Errorf("the Docker engine at %s reports API version %q, which is not one", c.host, sv)
		}
		if versionLess(sv, v) {
			v = sv
		}
	}
	c.mu.Lock()
	if c.version == "" {
		c.version = v
	}
	v = c.version
	c.mu.Unlock()
	return v, nil
}

// validVersion: MAJOR.MINOR, digits only, as the version goes into
// every request's path.
func validVersion(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	digits := func(s string) bool {
		return s != "" && len(s) <= 4 && strings.Trim(s, "0123456789") == ""
	}
	return ok && digits(major) && digits(minor)
}

// versionLess compares API versions "1.41" < "1.51".
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// do sends one request to /vVERSION/path and returns the response when
// it succeeded; the caller closes its body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, header http.Header) (*http.Response, error) {
	v, err := c.negotiate(ctx)
	if err != nil {
		return nil, err
	}
	u := c.base + "/v" + v + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("talking to the Docker engine at %s: %w", c.host, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct{ Message string }
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return nil, &APIError{Status: resp.StatusCode, Message: msg}
	}
	return resp, nil
}

// get decodes the JSON answer of a GET into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, query, nil, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("reading the engine's answer to %s: %w", path, err)
	}
	return nil
}

// id refuses what cannot be an object's name or ID, so it never changes
// the path it is put in.
func id(kind, s string) (string, error) {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/?#%") || strings.TrimSpace(s) != s {
		return "", fmt.Errorf("%s %q: not a name or ID", kind, s)
	}
	return url.PathEscape(s), nil
}

// Info is GET /info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	return out, c.get(ctx, "/info", nil, &out)
}

// ServerVersion is GET /version.
func (c *Client) ServerVersion(ctx context.Context) (Version, error) {
	var out Version
	return out, c.get(ctx, "/version", nil, &out)
}

// ContainerList lists every container, running or not.
func (c *Client) ContainerList(ctx context.Context) ([]ContainerSummary, error) {
	var out []ContainerSummary
	return out, c.get(ctx, "/containers/json", url.Values{"all": {"1"}}, &out)
}

// ContainerInspect is GET /containers/ID/json.
func (c *Client) ContainerInspect(ctx context.Context, ref string) (ContainerInspect, error) {
	var out ContainerInspect
	p, err := id("container", ref)
	if err != nil {
		return out, err
	}
	return out, c.get(ctx, "/containers/"+p+"/json", nil, &out)
}

// ContainerTop lists a running container's processes.
func (c *Client) ContainerTop(ctx context.Context, ref string) (TopResponse, error) {
	var out TopResponse
	p, err := id("container", ref)
	if err != nil {
		return out, err
	}
	return out, c.get(ctx, "/containers/"+p+"/top", nil, &out)
}

// ContainerRestart stops (with the container's own stop timeout) and
// starts a container.
func (c *Client) ContainerRestart(ctx context.Context, ref string) error {
	p, err := id("container", ref)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodPost, "/containers/"+p+"/restart", nil, nil, nil)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

// ImageList lists the images.
func (c *Client) ImageList(ctx context.Context) ([]ImageSummary, error) {
	var out []ImageSummary
	return out, c.get(ctx, "/images/json", nil, &out)
}

// ImageInspect is GET /images/ID/json.
func (c *Client) ImageInspect(ctx context.Context, ref string) (ImageInspect, error) {
	var out ImageInspect
	p, err := id("image", ref)
	if err != nil {
		return out, err
	}
	return out, c.get(ctx, "/images/"+p+"/json", nil, &out)
}

// ImageHistory is an image's layers, newest first.
func (c *Client) ImageHistory(ctx context.Context, ref string) ([]ImageHistoryItem, error) {
	var out []ImageHistoryItem
	p, err := id("image", ref)
	if err != nil {
		return out, err
	}
	return out, c.get(ctx, "/images/"+p+"/history", nil, &out)
}

// NetworkList lists the networks.
func (c *Client) NetworkList(ctx context.Context) ([]network.Summary, error) {
	var out []network.Summary
	return out, c.get(ctx, "/networks", nil, &out)
}

// NetworkInspect is GET /networks/ID.
func (c *Client) NetworkInspect(ctx context.Context, ref string) (network.Inspect, error) {
	var out network.Inspect
	p, err := id("network", ref)
	if err != nil {
		return out, err
	}
	return out, c.get(ctx, "/networks/"+p, nil, &out)
}

// execCreate makes an exec instance that attaches stdout and stderr.
func (c *Client) execCreate(ctx context.Context, ref string, cmd []string) (string, error) {
	p, err := id("container", ref)
	if err != nil {
		return "", err
	}
	resp, err := c.do(ctx, http.MethodPost, "/containers/"+p+"/exec", nil,
		map[string]any{"Cmd": cmd, "AttachStdout": true, "AttachStderr": true}, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct{ ID string }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil || out.ID == "" {
		return "", fmt.Errorf("reading the engine's answer to exec create: %v", err)
	}
	return out.ID, nil
}

// execStart starts it and returns its multiplexed output stream (ended by
// the process's exit).
func (c *Client) execStart(ctx context.Context, execID string) (io.ReadCloser, error) {
	p, err := id("exec", execID)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"tcp"}}
	resp, err := c.do(ctx, http.MethodPost, "/exec/"+p+"/start", nil, map[string]any{"Detach": false, "Tty": false}, h)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// execInspect says whether the exec still runs and its exit code.
func (c *Client) execInspect(ctx context.Context, execID string) (ExecInspect, error) {
	var out ExecInspect
	p, err := id("exec", execID)
	if err != nil {
		return out, err
	}
	return out, c.get(ctx, "/exec/"+p+"/json", nil, &out)
}
