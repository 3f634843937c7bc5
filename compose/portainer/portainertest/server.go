// Package portainertest is an HTTP server that answers like Portainer's
// stacks API, for tests: Portainer itself cannot run on the test machine.
// It follows portainer/portainer's api/http/handler/stacks handlers
// (2.19–2.23): X-API-Key auth, endpointId required on PUT, Env replacing the
// stored variables, Git stacks detached by an update, and the
// {"message","details"} error shape.
package portainertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ctsec/ctsec/compose/portainer"
)

// Server is a fake Portainer holding stacks and their files.
type Server struct {
	*httptest.Server
	Key string

	mu       sync.Mutex
	stacks   map[int]*portainer.Stack
	files    map[int]string
	Requests []Request
	// FailPut makes the next PUT fail as a failed redeploy does.
	FailPut bool
}

// Request is what the server saw, for assertions.
type Request struct {
	Method, Path, Query string
	APIKey              string
	Body                string
}

// New starts a server over TLS that accepts key.
func New(t testing.TB, key string) *Server {
	s := &Server{Key: key, stacks: map[int]*portainer.Stack{}, files: map[int]string{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Add stores a stack and its file.
func (s *Server) Add(st portainer.Stack, file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := st
	s.stacks[st.ID] = &cp
	s.files[st.ID] = file
}

// File returns a stack's current file.
func (s *Server) File(id int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[id]
}

// Stack returns a stack as stored.
func (s *Server) Stack(id int) portainer.Stack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.stacks[id]
}

func writeErr(w http.ResponseWriter, code int, msg, details string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg, "details": details})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body := ""
	if r.Body != nil {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		body = b.String()
	}
	key := r.Header.Get("X-API-Key")
	if key == "" {
		key = r.URL.Query().Get("X-API-KEY")
	}
	s.Requests = append(s.Requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, APIKey: key, Body: body})
	if key != s.Key {
		writeErr(w, http.StatusUnauthorized, "Unauthorized", "A valid authorisation token is missing")
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api"), "/"), "/")
	if len(parts) == 0 || parts[0] != "stacks" {
		writeErr(w, http.StatusNotFound, "Not found", "")
		return
	}
	if len(parts) == 1 && r.Method == http.MethodGet {
		var f struct{ EndpointID int }
		if q := r.URL.Query().Get("filters"); q != "" {
			if err := json.Unmarshal([]byte(q), &f); err != nil {
				writeErr(w, http.StatusBadRequest, "Invalid query parameter: filters", err.Error())
				return
			}
		}
		out := []portainer.Stack{}
		for id := 1; id <= 1000; id++ {
			if st, ok := s.stacks[id]; ok && (f.EndpointID == 0 || st.EndpointID == f.EndpointID) {
				out = append(out, *st)
			}
		}
		json.NewEncoder(w).Encode(out)
		return
	}
	id, err := strconv.Atoi(parts[1])
	if err != nil {
		writeErr(w, http.StatusBadRequest, "Invalid stack identifier route variable", err.Error())
		return
	}
	st, ok := s.stacks[id]
	if !ok {
		writeErr(w, http.StatusNotFound, "Unable to find a stack with the specified identifier inside the database", "Object not found inside the database")
		return
	}
	switch {
	case len(parts) == 2 && r.Method == http.MethodGet:
		json.NewEncoder(w).Encode(st)
	case len(parts) == 3 && parts[2] == "file" && r.Method == http.MethodGet:
		json.NewEncoder(w).Encode(map[string]string{"StackFileContent": s.files[id]})
	case len(parts) == 2 && r.Method == http.MethodPut:
		ep, err := strconv.Atoi(r.URL.Query().Get("endpointId"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, "Invalid query parameter: endpointId", err.Error())
			return
		}
		if ep != st.EndpointID {
			writeErr(w, http.StatusNotFound, "Unable to find the environment associated to the stack inside the database", "")
			return
		}
		// Portainer's payload structs have no JSON tags: decoding is
		// case-insensitive, as encoding/json does here.
		var p struct {
			StackFileContent string
			Env              []portainer.EnvVar
			Prune            bool
			PullImage        bool
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			writeErr(w, http.StatusBadRequest, "Invalid request payload", err.Error())
			return
		}
		if p.StackFileContent == "" {
			writeErr(w, http.StatusBadRequest, "Invalid request payload", "Invalid stack file content")
			return
		}
		if s.FailPut {
			s.FailPut = false
			// Portainer restores the previous file when the redeploy fails.
			writeErr(w, http.StatusInternalServerError, "Failed to deploy a stack", "compose up failed")
			return
		}
		s.files[id] = p.StackFileContent
		st.Env = p.Env
		st.GitConfig = nil // an update detaches a Git stack
		json.NewEncoder(w).Encode(st)
	default:
		writeErr(w, http.StatusMethodNotAllowed, "Method not allowed", "")
	}
}
