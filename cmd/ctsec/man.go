//go:build !lean

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type manOptions struct {
	Dir string
}

type manData struct {
	Dir   string   `json:"dir"`
	Pages []string `json:"pages"`
}

// newManCmd writes the man pages, one per command, from the same
// definitions --help prints; scripts/install.sh installs them. Hidden: it
// is for packaging, not a job.
func newManCmd(a *app, runF runFunc[manOptions]) *cobra.Command {
	if runF == nil {
		runF = runMan
	}
	opts := &manOptions{}
	cmd := &cobra.Command{
		Use:    manUse,
		Short:  manShort,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "`DIR` to write ctsec.1, ctsec-host-apply.1, … into (created if missing)")
	return cmd
}

func runMan(_ context.Context, opts *manOptions, a *app) (*report.Report, error) {
	if opts.Dir == "" {
		return nil, usageError(fmt.Errorf("--dir is required"))
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating --dir %s: %w", opts.Dir, err)
	}
	// A tree of its own: the pages describe the commands, not this run.
	root := newRootCmd(&app{clock: a.clock})
	root.DisableAutoGenTag = true
	date := a.clock.Now()
	header := &doc.GenManHeader{Title: "CTSEC", Section: "1", Date: &date,
		Source: "ctsec " + buildVersion().Version, Manual: "ctsec manual"}
	if err := doc.GenManTree(root, header, opts.Dir); err != nil {
		return nil, fmt.Errorf("writing man pages into %s: %w", opts.Dir, err)
	}
	pages, err := filepath.Glob(filepath.Join(opts.Dir, "ctsec*.1"))
	if err != nil {
		return nil, err
	}
	sort.Strings(pages)
	data := manData{Dir: opts.Dir, Pages: pages}
	r := report.New("man", nil, data)
	r.Text = func(w io.Writer, _ report.Options) error {
		_, err := fmt.Fprintf(w, "wrote %d man pages into %s\n", len(pages), opts.Dir)
		return err
	}
	return &r, nil
}
