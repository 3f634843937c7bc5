// Package portainer is a small client for Portainer's stacks API: list
// stacks, fetch a stack's compose file, and update it keeping its
// environment variables. It follows the documented API (api/http/handler/stacks
// in portainer/portainer): X-API-Key authentication, GET /api/stacks,
// GET /api/stacks/{id}, GET /api/stacks/{id}/file and
// PUT /api/stacks/{id}?endpointId=N.
package portainer

import (
	"bytes"
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
	"strconv"
	"strings"
	"time"

	"github.com/ctsec/ctsec/internal/term"
)

// MaxResponse bounds what ctsec reads from Portainer.
const MaxResponse = 16 << 20

// Stack types and statuses as Portainer numbers them.
const (
	TypeSwarm      = 1
	TypeCompose    = 2
	TypeKubernetes = 3
)

// Stack is the part of Portainer's stack object ctsec uses.
type Stack struct {
	ID              int             `json:"Id"`
	Name            string          `json:"Name"`
	Type            int             `json:"Type"`
	EndpointID      int             `json:"EndpointId"`
	SwarmID         string          `json:"SwarmId,omitempty"`
	EntryPoint      string          `json:"EntryPoint,omitempty"`
	Env             []EnvVar        `json:"Env"`
	Status          int             `json:"Status"`
	AdditionalFiles []string        `json:"AdditionalFiles,omitempty"`
	GitConfig       json.RawMessage `json:"GitConfig,omitempty"`
	Option          *struct {
		Prune bool `json:"Prune"`
	} `json:"Option,omitempty"`
}

// EnvVar is one stack environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// GitBacked reports whether the stack is deployed from a Git repository: an
// update through the API silently detaches it from Git (Portainer ≥ 2.20).
func (s Stack) GitBacked() bool {
	g := strings.TrimSpace(string(s.GitConfig))
	return g != "" && g != "null"
}

// TypeName is "swarm", "compose" or "kubernetes".
// Label is the stack's name for people-facing text: the name comes from the
// API, and control characters in it could rewrite a terminal's output.
func (s Stack) Label() string { return term.Line(s.Name) }

func (s Stack) TypeName() string {
	switch s.Type {
	case TypeSwarm:
		return "swarm"
	case TypeCompose:
		return "compose"
	case TypeKubernetes:
		return "kubernetes"
	}
	return "type " + strconv.Itoa(s.Type)
}

// Client talks to one Portainer instance.
type Client struct {
	base   *url.URL
	apiKey string
	http   *http.Client
}

// Error is a Portainer API error answer. It never carries the API key.
type Error struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("portainer %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// NewHTTPClient verifies TLS against the system roots plus caFile when given.
func NewHTTPClient(caFile string, timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: refuseRedirect}, nil
}

// refuseRedirect stops every redirect: Go's client forwards custom headers
// such as X-API-Key to whatever host a redirect names (only Authorization
// and cookies are dropped across hosts), and the Portainer API does not
// redirect its own calls.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("answered with a redirect to %s; ctsec does not follow redirects with the API key: give that address as --url", req.URL.Redacted())
}

// New makes a client for the Portainer at baseURL (e.g. https://host:9443).
func New(baseURL, apiKey string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("portainer URL %q: want https://host[:port]", baseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("portainer URL must not carry credentials; give the API key in a file or the environment")
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("portainer URL %q: refusing to send the API key in clear text to %s; use https:// (plain http only to this machine)", baseURL, u.Hostname())
	}
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("no Portainer API key")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second, CheckRedirect: refuseRedirect}
	}
	return &Client{base: u, apiKey: strings.TrimSpace(apiKey), http: hc}, nil
}

// loopback reports whether host is this machine: the only place plain HTTP
// may carry the API key (e.g. an SSH tunnel to Portainer's port).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ReadAPIKey takes the key from a file (first line) or, without one, from
// the environment variable. Keys never come from the command line, where
// other users can read them in the process list.
func ReadAPIKey(file, envVar string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading API key file: %w", err)
		}
		k, _, _ := strings.Cut(string(b), "\n")
		if k = strings.TrimSpace(k); k == "" {
			return "", fmt.Errorf("API key file %s is empty", file)
		}
		return k, nil
	}
	if k := strings.TrimSpace(os.Getenv(envVar)); k != "" {
		return k, nil
	}
	return "", fmt.Errorf("no Portainer API key: set %s or use --api-key-file", envVar)
}

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/api" + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error names the URL, which holds no secret: the key is a header.
		return fmt.Errorf("portainer %s %s: %w", method, path, redact(err, c.apiKey))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return fmt.Errorf("portainer %s %s: reading answer: %w", method, path, err)
	}
	if len(data) > MaxResponse {
		return fmt.Errorf("portainer %s %s: answer larger than %d MiB", method, path, MaxResponse>>20)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Message, Details string }
		json.Unmarshal(data, &e)
		msg := e.Message
		if e.Details != "" && e.Details != e.Message {
			msg += " (" + e.Details + ")"
		}
		// Redact before cutting: a cut through the key would leave its
		// beginning, which no longer matches the whole key.
		return &Error{Method: method, Path: path, Status: resp.StatusCode, Message: oneLine(strings.ReplaceAll(msg, c.apiKey, "[redacted]"))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("portainer %s %s: unexpected answer: %w", method, path, err)
		}
	}
	return nil
}

// oneLine bounds an API error message to one terminal-safe line.
func oneLine(s string) string {
	s = term.Line(strings.Join(strings.Fields(s), " "))
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

func redact(err error, key string) error {
	if key != "" && strings.Contains(err.Error(), key) {
		return errors.New(strings.ReplaceAll(err.Error(), key, "[redacted]"))
	}
	return err
}

// Stacks lists stacks, of one environment when endpointID > 0.
func (c *Client) Stacks(ctx context.Context, endpointID int) ([]Stack, error) {
	q := url.Values{}
	if endpointID > 0 {
		q.Set("filters", fmt.Sprintf(`{"EndpointID":%d}`, endpointID))
	}
	var out []Stack
	if err := c.do(ctx, http.MethodGet, "/stacks", q, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Stack fetches one stack.
func (c *Client) Stack(ctx context.Context, id int) (Stack, error) {
	var s Stack
	err := c.do(ctx, http.MethodGet, "/stacks/"+strconv.Itoa(id), nil, nil, &s)
	return s, err
}

// StackFile fetches a stack's compose file (its entry point only; Portainer
// does not return additional files here).
func (c *Client) StackFile(ctx context.Context, id int) (string, error) {
	var f struct {
		StackFileContent string `json:"StackFileContent"`
	}
	if err := c.do(ctx, http.MethodGet, "/stacks/"+strconv.Itoa(id)+"/file", nil, nil, &f); err != nil {
		return "", err
	}
	return f.StackFileContent, nil
}

// updateBody is PUT /stacks/{id}: Env replaces the stored variables, so the
// stack's own are always sent back.
type updateBody struct {
	StackFileContent string   `json:"stackFileContent"`
	Env              []EnvVar `json:"env"`
	Prune            bool     `json:"prune"`
	PullImage        bool     `json:"pullImage"`
}

// UpdateStack replaces a stack's file and redeploys it with the stack's own
// environment variables and prune setting.
func (c *Client) UpdateStack(ctx context.Context, s Stack, content string, pull bool) (Stack, error) {
	if s.Type == TypeKubernetes {
		return Stack{}, fmt.Errorf("stack %d is a Kubernetes stack; ctsec hardens compose and swarm stacks only", s.ID)
	}
	env := s.Env
	if env == nil {
		env = []EnvVar{}
	}
	body := updateBody{StackFileContent: content, Env: env, PullImage: pull}
	if s.Option != nil {
		body.Prune = s.Option.Prune
	}
	q := url.Values{"endpointId": {strconv.Itoa(s.EndpointID)}}
	var out Stack
	err := c.do(ctx, http.MethodPut, "/stacks/"+strconv.Itoa(s.ID), q, body, &out)
	return out, err
}
