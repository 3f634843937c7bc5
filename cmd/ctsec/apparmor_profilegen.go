package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ctsec/ctsec/apparmor"
	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/report"
	"github.com/spf13/pflag"
)

// apparmorGenerator is the AppArmor half of `ctsec profile gen`: the profile
// ctsec-NAME in DIR/NAME.apparmor, from --apparmor-spec when given.
type apparmorGenerator struct {
	spec    string
	enforce bool
	clock   clock.Clock
}

func (g *apparmorGenerator) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.spec, "spec", "", "YAML service spec `FILE` for the AppArmor profile (keys: see 'ctsec apparmor gen --help')")
	fs.BoolVar(&g.enforce, "enforce", false, "start the AppArmor profile in enforce mode instead of complain")
}

func (g *apparmorGenerator) generate(name string) (generatedFile, error) {
	spec := &apparmor.Spec{}
	if g.spec != "" {
		var err error
		if spec, err = apparmor.LoadSpec(g.spec); err != nil {
			return generatedFile{}, err
		}
	}
	spec.Name = name
	spec.Created = clock.Or(g.clock).Now()
	if g.enforce {
		spec.Mode = "enforce"
	}
	p, err := apparmor.Generate(spec)
	if err != nil {
		return generatedFile{}, fmt.Errorf("generating AppArmor profile: %w", err)
	}
	file := name + ".apparmor"
	data, findings, err := checkedProfile(context.Background(), file, p)
	if err != nil {
		return generatedFile{}, err
	}
	var notes []string
	for _, f := range findings {
		notes = append(notes, fmt.Sprintf("%s: %s", f.Rule, f.Message))
	}
	notes = append(notes, "not loaded yet: run 'ctsec apparmor load --write' on this file")
	template := spec.Template
	if template == "" {
		template = "docker-default"
	}
	return generatedFile{
		Kind:    "apparmor",
		File:    file,
		Summary: fmt.Sprintf("AppArmor profile %s from %q, %s mode, %d rules", p.Name, template, p.Mode(), p.RuleCount()),
		Notes:   notes,
		data:    data,
		// The profile is selected by name, not by path.
		securityOpt: func(string) string { return apparmor.SecurityOpt(p.Name) },
		refresh:     func(old []byte) []byte { return apparmor.KeepComplainSince(data, old) },
	}, nil
}

// checkedProfile renders and validates a profile about to be written, the
// same way for every command that writes one (apparmor.Checked); a profile
// that fails is a validation failure (exit 1), with nothing written.
func checkedProfile(ctx context.Context, file string, p *apparmor.Profile) ([]byte, []report.Finding, error) {
	data, notes, err := apparmor.Checked(ctx, file, p, apparmor.ValidateOptions{})
	var ie *apparmor.InvalidProfileError
	if errors.As(err, &ie) {
		return nil, nil, failed("%s", ie.Error())
	}
	return data, notes, err
}
