//go:build !lean

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/ctsec/ctsec/internal/report"
	"github.com/ctsec/ctsec/internal/term"
	"github.com/ctsec/ctsec/profiles/capabilities"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// operatorKB is where an operator's own knowledge base entries live.
const operatorKB = "/etc/ctsec/capabilities.yaml"

func registerKB(f *pflag.FlagSet, p *string) {
	f.StringVar(p, "kb", "", "`FILE` of knowledge base entries looked up before ctsec's own (default: "+operatorKB+" when there is one)")
}

// loadKB is ctsec's knowledge base, extended by the operator's file.
func loadKB(file string) (*capabilities.Base, error) {
	kb, err := capabilities.Default()
	if err != nil {
		return nil, err
	}
	if file == "" {
		if _, err := os.Stat(operatorKB); errors.Is(err, fs.ErrNotExist) {
			return kb, nil
		}
		file = operatorKB
	}
	extra, err := capabilities.LoadFile(file)
	if err != nil {
		return nil, err
	}
	return kb.Extend(extra), nil
}

type composeKBOptions struct {
	Image string
	KB    string
}

// composeKBData is what ctsec believes: the entries, or the one an image gets.
type composeKBData struct {
	Image   string               `json:"image,omitempty"`
	Entries []capabilities.Entry `json:"entries"`
}

func newComposeKBCmd(a *app, runF runFunc[composeKBOptions]) *cobra.Command {
	if runF == nil {
		runF = runComposeKB
	}
	opts := &composeKBOptions{}
	cmd := &cobra.Command{
		Use:   "kb [IMAGE]",
		Short: "Show what ctsec believes about images, and why",
		Long: `kb shows the capability knowledge base harden falls back on when no trial
(ctsec compose learn) and no image facts say better: per family of images, the
capabilities it needs as root and as a user, the memory and pids ceilings, where it
writes (or why a read-only root does not work for it), the reason, and the sources.

With IMAGE, the entry that image gets (the default when none matches), in full.
Operators add their own entries in ` + operatorKB + ` or a file given with --kb,
in the same format (see profiles/capabilities/capabilities.yaml); theirs are looked up
first. Capabilities beyond Docker's defaults are refused there too.`,
		Example: `  ctsec compose kb
  ctsec compose kb postgres:16
  ctsec compose kb --kb ./our-images.yaml registry.example/billing:2.3`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Image = args[0]
			}
			return a.finish(runF(cmd.Context(), opts, a))
		},
	}
	registerKB(cmd.Flags(), &opts.KB)
	return cmd
}

func runComposeKB(_ context.Context, opts *composeKBOptions, _ *app) (*report.Report, error) {
	kb, err := loadKB(opts.KB)
	if err != nil {
		return nil, err
	}
	data := composeKBData{Image: opts.Image}
	if opts.Image != "" {
		data.Entries = []capabilities.Entry{kb.Lookup(opts.Image)}
	} else {
		data.Entries = append(kb.Images, kb.Fallback)
	}
	r := report.New("compose kb", nil, data)
	r.Text = func(w io.Writer, o report.Options) error {
		if opts.Image != "" {
			return writeKBEntry(w, opts.Image, data.Entries[0], o)
		}
		for _, e := range data.Entries {
			images := strings.Join(e.Images, ", ")
			if e.Fallback {
				images = "any other image (the default)"
			}
			ro := "read-only root with tmpfs"
			switch {
			case e.Fallback:
				ro = "read-only root after learn"
			case e.NoReadOnly != "":
				ro = "no read-only root"
			}
			fmt.Fprintln(w, term.Line(images))
			detail := fmt.Sprintf("as root %s; as a user %s; memory %s; pids %d; %s; %d source(s)",
				strings.ReplaceAll(capsOrNone(e.Caps), ",", " "), strings.ReplaceAll(capsOrNone(e.UserCaps), ",", " "), e.Memory, e.Pids, ro, len(e.Sources))
			for _, l := range term.Wrap(term.Line(detail), o.LineWidth()-4) {
				fmt.Fprintln(w, "    "+l)
			}
		}
		_, err := fmt.Fprintln(w, "details and sources: ctsec compose kb IMAGE")
		return err
	}
	return &r, nil
}

func writeKBEntry(w io.Writer, image string, e capabilities.Entry, o report.Options) error {
	line := func(k, v string) {
		for i, l := range term.Wrap(term.Line(v), o.LineWidth()-16) {
			if i == 0 {
				fmt.Fprintf(w, "%-15s %s\n", k, l)
			} else {
				fmt.Fprintf(w, "%-15s %s\n", "", l)
			}
		}
	}
	match := "entry for " + strings.Join(e.Images, ", ")
	if e.Fallback {
		match = "no entry matches: the default"
	}
	origin := "ctsec's own knowledge base"
	if e.Origin != "" {
		origin = e.Origin
	}
	line("image", image+" ("+match+", from "+origin+")")
	line("as root", strings.ReplaceAll(capsOrNone(e.Caps), ",", ", "))
	line("as a user", strings.ReplaceAll(capsOrNone(e.UserCaps), ",", ", "))
	line("memory", e.Memory)
	line("pids", fmt.Sprint(e.Pids))
	switch {
	case e.NoReadOnly != "":
		line("read-only root", "not added: "+e.NoReadOnly)
	case e.Fallback:
		line("read-only root", "not added until ctsec compose learn finds where it writes")
	default:
		line("read-only root", "with tmpfs on "+strings.Join(tmpfsPaths(e.Writable), ", "))
	}
	line("why", e.Reason)
	verified := "no: from the sources below, not run here"
	if e.Verified {
		verified = "yes"
	}
	line("verified", verified)
	for i, s := range e.Sources {
		k := ""
		if i == 0 {
			k = "sources"
		}
		line(k, s)
	}
	return nil
}

func capsOrNone(c []string) string {
	if len(c) == 0 {
		return "none"
	}
	return strings.Join(c, ",")
}

func tmpfsPaths(writable []string) []string {
	out := []string{"/tmp", "/run"}
	for _, p := range writable {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
