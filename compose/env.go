package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"
)

// Env is what ${VAR} in a compose file becomes at deploy time, read as
// docker compose reads it: the variables of the environment win over those
// of the env files, which are the .env beside the compose file unless files
// are named (--env-file).
//
// ctsec keeps the model as the file says (${VAR} as text) and resolves
// through Env only the values it judges — an image's name for the
// knowledge base, a user, a host path or port — and never writes a
// resolved value back. A value that cannot be resolved is reported as
// such, never guessed.
type Env map[string]string

// LoadEnv reads the variables for composeFile. environ is the process
// environment (os.Environ()); envFiles replace the default .env.
func LoadEnv(composeFile string, envFiles []string, environ []string) (Env, error) {
	current := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			current[k] = v
		}
	}
	files := envFiles
	if len(files) == 0 && !truthy(current["COMPOSE_DISABLE_ENV_FILE"]) {
		p := filepath.Join(filepath.Dir(composeFile), ".env")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			files = []string{p}
		}
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("reading env file: %w", err)
		} else if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("reading env file %s: not a regular file", f)
		} else if st.Size() > MaxFileSize {
			return nil, fmt.Errorf("reading env file %s: larger than %d MiB", f, MaxFileSize>>20)
		}
	}
	fromFiles, err := dotenv.GetEnvFromFile(current, files)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	env := Env{}
	for k, v := range fromFiles {
		env[k] = v
	}
	for k, v := range current {
		env[k] = v // the environment wins, as with docker compose
	}
	return env, nil
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "y", "on":
		return true
	}
	return false
}

// Resolve interpolates s as docker compose would. ok is false when a
// variable it needs has no value and no default (or is required and
// missing): what the value will be cannot be told from here.
func (e Env) Resolve(s string) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, true
	}
	missing := false
	out, err := template.Substitute(s, func(name string) (string, bool) {
		v, ok := e[name]
		if !ok {
			missing = true
		}
		return v, ok
	})
	if err != nil {
		return "", false
	}
	if missing {
		// A miss is fine where the expression has a default.
		for name, v := range template.ExtractVariables(map[string]any{"v": s}, template.DefaultPattern) {
			if _, set := e[name]; !set && v.DefaultValue == "" && v.PresenceValue == "" {
				return "", false
			}
		}
	}
	return out, true
}

// SetEnv gives the document the variables its values resolve through.
func (d *Document) SetEnv(e Env) { d.env = e }

// Env is what the document's values resolve through (SetEnv).
func (d *Document) Env() Env { return d.env }

// resolve is Env.Resolve with the document's variables (none: every
// ${VAR} without a default is unresolvable).
func (d *Document) resolve(s string) (string, bool) { return d.env.Resolve(s) }
