package record

import (
	"encoding/json"
	"fmt"
	"os"
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
	if err := verify(p); err != nil {
		return fmt.Errorf("compiling the recorded profile with libseccomp: %w", err)
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

// ContainerPath is where a container's profile goes in listen mode: the
// template with {id} and {metadata} replaced by file-name-safe forms of the
// container id and listenerMetadata, or, without placeholders, the template
// with "-ID" before its extension (web.json → web-3f2a….json).
func ContainerPath(template string, c *Container) string {
	id := SafeName(c.ID)
	if strings.Contains(template, "{id}") || strings.Contains(template, "{metadata}") {
		meta := id
		if c.Metadata != "" {
			meta = SafeName(c.Metadata)
		}
		return strings.NewReplacer("{id}", id, "{metadata}", meta).Replace(template)
	}
	ext := filepath.Ext(template)
	return strings.TrimSuffix(template, ext) + "-" + id + ext
}

// FreePaths returns path and its observation path, or when either file is
// there already the first free pair with "-2", "-3"… before the extension:
// a finished recording is never thrown away and never overwrites another.
func FreePaths(path string) (profile, observation string) {
	free := func(p string) bool {
		_, err := os.Lstat(p)
		return os.IsNotExist(err)
	}
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	for i := 1; ; i++ {
		p := path
		if i > 1 {
			p = fmt.Sprintf("%s-%d%s", base, i, ext)
		}
		if free(p) && free(ObservationPath(p)) {
			return p, ObservationPath(p)
		}
	}
}
