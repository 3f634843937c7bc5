package record

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ctsec/ctsec/internal/safefile"
)

// ObservationPath is where the observation file for a profile goes:
// web.json → web.syscalls.json.
func ObservationPath(profilePath string) string {
	ext := filepath.Ext(profilePath)
	if ext != ".json" {
		return profilePath + ".syscalls.json"
	}
	return strings.TrimSuffix(profilePath, ext) + ".syscalls.json"
}

// Write renders the profile for obs and writes it and the observation file,
// each atomically, the observation first: a recording is worth keeping even
// when its profile cannot be built.
func Write(obs *Observation, opts ProfileOptions, profilePath, observationPath string) error {
	data, err := json.MarshalIndent(obs, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the observation: %w", err)
	}
	if err := safefile.WriteFile(observationPath, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing observation %q: %w", observationPath, err)
	}
	p, err := Profile(obs, opts)
	if err != nil {
		return fmt.Errorf("building the profile: %w", err)
	}
	if err := WriteJSON(profilePath, p); err != nil {
		return fmt.Errorf("writing profile %q: %w", profilePath, err)
	}
	return nil
}

// WriteJSON writes v as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(path, append(data, '\n'), 0o644)
}
