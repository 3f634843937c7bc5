package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

// maxExecOutput bounds what a command run in a container may print back:
// a reload prints a line, never megabytes.
const maxExecOutput = 64 << 10

// Restart stops and starts a container again and waits until the engine
// reports it running.
func Restart(ctx context.Context, c *Client, id string) error {
	if err := c.ContainerRestart(ctx, id); err != nil {
		return fmt.Errorf("restarting container %s: %w", id, err)
	}
	res, err := c.ContainerInspect(ctx, id)
	if err != nil {
		return fmt.Errorf("inspecting container %s after the restart: %w", id, err)
	}
	if st := res.State; st == nil || !st.Running {
		return fmt.Errorf("container %s is not running after the restart", id)
	}
	return nil
}

// Exec runs cmd in a running container, as the image's user, and returns
// its exit code and what it printed (stdout and stderr, bounded).
func Exec(ctx context.Context, c *Client, id string, cmd []string) (int, []byte, error) {
	if len(cmd) == 0 {
		return 0, nil, fmt.Errorf("exec in container %s: no command", id)
	}
	what := fmt.Sprintf("running %q in container %s", strings.Join(cmd, " "), id)
	ex, err := c.execCreate(ctx, id, cmd)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	stream, err := c.execStart(ctx, ex)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", what, err)
	}
	defer stream.Close()
	var out limitedBuffer
	if _, err := stdcopy.StdCopy(&out, &out, stream); err != nil {
		return 0, out.Bytes(), fmt.Errorf("%s: reading its output: %w", what, err)
	}
	// The stream ends when the process does; the engine may take a moment
	// longer to record its exit code.
	for range 50 {
		in, err := c.execInspect(ctx, ex)
		if err != nil {
			return 0, out.Bytes(), fmt.Errorf("%s: %w", what, err)
		}
		if !in.Running && in.ExitCode != nil {
			return *in.ExitCode, out.Bytes(), nil
		}
		select {
		case <-ctx.Done():
			return 0, out.Bytes(), ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return 0, out.Bytes(), fmt.Errorf("%s: still running after its output ended", what)
}

// limitedBuffer keeps the first maxExecOutput bytes and drops the rest.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxExecOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var _ io.Writer = (*limitedBuffer)(nil)
