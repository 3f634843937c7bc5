package testenv

import (
	"bytes"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var schemas sync.Map // absolute path → *jsonschema.Schema

// Schema compiles the JSON schema file at path (draft 4 to 2020-12, with
// format assertions on), once per test binary.
func Schema(t testing.TB, path string) *jsonschema.Schema {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := schemas.Load(abs); ok {
		return s.(*jsonschema.Schema)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	s, err := c.Compile(abs)
	if err != nil {
		t.Fatalf("compiling schema %s: %v", path, err)
	}
	schemas.Store(abs, s)
	return s
}

// MatchesSchema fails the test when the JSON document doc does not
// validate against the schema file at path.
func MatchesSchema(t testing.TB, path string, doc []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	if err := Schema(t, path).Validate(v); err != nil {
		t.Errorf("does not match %s: %v\n%s", filepath.Base(path), err, doc)
	}
}
