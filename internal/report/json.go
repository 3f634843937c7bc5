package report

import (
	"encoding/json"
	"io"
)

func renderJSON(w io.Writer, r Report) error {
	return WriteJSON(w, r)
}

// WriteJSON writes v as indented JSON, the one way ctsec prints JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
