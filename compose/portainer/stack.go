package portainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ctsec/ctsec/compose"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/safefile"
)

// ErrGitStack refuses an update that would detach a stack from Git.
var ErrGitStack = errors.New("stack is deployed from Git: an API update silently detaches it from the repository (Portainer ≥ 2.20); harden the file in the repository instead, or pass --detach-git")

// Plan is a stack fetched from Portainer with its hardened file.
type Plan struct {
	Stack    Stack
	Original string
	Doc      *compose.Document
	Result   *compose.Result
}

// Name is how the stack file is named in findings and diffs.
func Name(s Stack) string { return fmt.Sprintf("portainer/stack-%d-%s.yml", s.ID, s.Name) }

// Fetch gets a stack and its file, refusing what ctsec cannot harden.
func (c *Client) Fetch(ctx context.Context, id int) (Stack, *compose.Document, error) {
	s, err := c.Stack(ctx, id)
	if err != nil {
		return Stack{}, nil, err
	}
	if s.Type == TypeKubernetes {
		return s, nil, fmt.Errorf("stack %d (%s) is a Kubernetes stack; ctsec handles compose and swarm stacks", s.ID, s.Name)
	}
	content, err := c.StackFile(ctx, id)
	if err != nil {
		return s, nil, err
	}
	if len(content) > compose.MaxFileSize {
		return s, nil, fmt.Errorf("stack %d file is larger than %d MiB", id, compose.MaxFileSize>>20)
	}
	d, err := compose.Parse(Name(s), []byte(content))
	if err != nil {
		return s, nil, err
	}
	return s, d, nil
}

// Harden fetches a stack and hardens its file; swarm stacks are hardened as
// swarm whatever their deploy keys say.
func (c *Client) Harden(ctx context.Context, id int, o compose.Options) (*Plan, error) {
	s, d, err := c.Fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.Type == TypeSwarm {
		yes := true
		o.Swarm = &yes
	}
	res, err := compose.Harden(d, o)
	if err != nil {
		return nil, err
	}
	if len(s.AdditionalFiles) > 0 {
		res.Warnings = append(res.Warnings, report.Finding{Rule: compose.RuleNotHardened, Severity: report.Medium, File: d.Name,
			Target: "stack " + s.Name, Message: fmt.Sprintf("stack %d also deploys %d additional file(s) (%s) that Portainer's API does not return: they were not audited or hardened and may override these edits",
				s.ID, len(s.AdditionalFiles), strings.Join(s.AdditionalFiles, ", "))})
	}
	return &Plan{Stack: s, Original: string(d.Src), Doc: d, Result: res}, nil
}

// PushOptions steer Push.
type PushOptions struct {
	// DetachGit allows updating a Git-backed stack (it will lose its Git link).
	DetachGit bool
	// StateDir receives the backup of the stack's previous file and settings.
	StateDir string
	// Pull asks Portainer to pull images on redeploy.
	Pull bool
	// Clock dates the backup; nil is the system clock.
	Clock clock.Clock
}

// Push replaces the stack's file with content after checking that nobody
// changed it since it was fetched (previous) and backing it up. Portainer
// itself restores the old file when the redeploy fails; ctsec reads the file
// back to prove the update landed. It returns the backup directory.
func (c *Client) Push(ctx context.Context, s Stack, previous, content string, o PushOptions) (string, error) {
	if s.GitBacked() && !o.DetachGit {
		return "", fmt.Errorf("stack %d (%s): %w", s.ID, s.Name, ErrGitStack)
	}
	if _, err := compose.Parse(Name(s), []byte(content)); err != nil {
		return "", fmt.Errorf("refusing to push: %w", err)
	}
	now, err := c.StackFile(ctx, s.ID)
	if err != nil {
		return "", err
	}
	if now != previous {
		return "", fmt.Errorf("stack %d (%s) changed in Portainer since it was read; run again", s.ID, s.Name)
	}
	backup, err := SaveBackup(o.StateDir, c.base.Host, s, previous, clock.Or(o.Clock).Now())
	if err != nil {
		return "", err
	}
	if _, err := c.UpdateStack(ctx, s, content, o.Pull); err != nil {
		return backup, fmt.Errorf("updating stack %d (%s), previous file backed up in %s: %w", s.ID, s.Name, backup, err)
	}
	after, err := c.StackFile(ctx, s.ID)
	if err != nil {
		return backup, fmt.Errorf("reading stack %d back: %w", s.ID, err)
	}
	if after != content {
		return backup, fmt.Errorf("stack %d: Portainer holds a different file than the one pushed (backup in %s)", s.ID, backup)
	}
	return backup, nil
}

// SaveBackup keeps a stack's file and settings (its environment may hold
// secrets: files are 0600 in a 0700 directory) under
// <stateDir>/portainer/<host>/stack-<id>-<time>/, dated now.
func SaveBackup(stateDir, host string, s Stack, content string, now time.Time) (string, error) {
	dir := filepath.Join(stateDir, "portainer", safeName(host),
		fmt.Sprintf("stack-%d-%s", s.ID, now.UTC().Format("20060102T150405.000000000Z")))
	// A state directory others can write could hand the secrets to them
	// or redirect the write: refuse it.
	if err := safefile.MakeStateDir(filepath.Dir(dir)); err != nil {
		return "", fmt.Errorf("creating backup directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating backup directory: %w", err)
	}
	meta, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	if err := safefile.WriteFile(filepath.Join(dir, "stack.yml"), []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("backing up stack %d: %w", s.ID, err)
	}
	if err := safefile.WriteFile(filepath.Join(dir, "stack.json"), meta, 0o600); err != nil {
		return "", fmt.Errorf("backing up stack %d: %w", s.ID, err)
	}
	return dir, nil
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}
