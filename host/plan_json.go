package host

import (
	"encoding/json"

	"github.com/ctsec/ctsec/internal/report"
)

// EditJSON is how an Edit reads in JSON: the file mode as the octal string
// people write ("0644"), not fs.FileMode's decimal number.
type EditJSON struct {
	Path     string          `json:"path"`
	Exists   bool            `json:"exists"`
	Remove   bool            `json:"remove,omitempty"`
	Mode     report.FileMode `json:"mode"`
	Diff     string          `json:"diff"`
	Warnings []string        `json:"warnings,omitempty"`
}

// MarshalJSON writes the edit as EditJSON.
func (e Edit) MarshalJSON() ([]byte, error) {
	return json.Marshal(EditJSON{Path: e.Path, Exists: e.Exists, Remove: e.Remove, Mode: report.FileMode(e.Mode), Diff: e.Diff, Warnings: e.Warnings})
}
