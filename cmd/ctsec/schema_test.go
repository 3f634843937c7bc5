package main

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/ctsec/ctsec/host"
	"github.com/ctsec/ctsec/internal/report"
)

// The JSON schema of each command's report is made from the Go types it
// marshals: the envelope (report.Report and report.Finding) with data the
// command's own type. Structs allow no other fields, so a field added,
// renamed or retyped shows up as a change to the committed schema under
// docs/schema, and the goldens are validated against it.

// jsonAs are types whose MarshalJSON writes another type's shape.
var jsonAs = map[reflect.Type]reflect.Type{
	reflect.TypeOf(host.Edit{}): reflect.TypeOf(host.EditJSON{}),
}

var (
	textMarshaler = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	jsonMarshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	timeType      = reflect.TypeOf(time.Time{})
	rawType       = reflect.TypeOf(json.RawMessage{})
	severityType  = reflect.TypeOf(report.Severity(0))
	fileModeType  = reflect.TypeOf(report.FileMode(0))
)

type schemaGen struct {
	defs map[string]any
}

func (g *schemaGen) defName(t reflect.Type) string {
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	return pkg + "." + t.Name()
}

// of is the schema of values of type t as encoding/json writes them.
func (g *schemaGen) of(t reflect.Type) any {
	if as, ok := jsonAs[t]; ok {
		t = as
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	case t == severityType:
		return map[string]any{"enum": []string{"info", "low", "medium", "high", "critical"}}
	case t == fileModeType:
		return map[string]any{"type": "string", "pattern": "^0[0-7]{3}$"}
	case t.Kind() != reflect.Pointer && (t.Implements(textMarshaler) || reflect.PointerTo(t).Implements(textMarshaler)) && !t.Implements(jsonMarshaler):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return map[string]any{"anyOf": []any{g.of(t.Elem()), map[string]any{"type": "null"}}}
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string"} // base64
		}
		return map[string]any{"type": []string{"array", "null"}, "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": g.of(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name := g.defName(t)
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // recursion guard
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	panic("schema: no JSON for " + t.String())
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	sort.Strings(required)
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.fields(ft, props, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.of(ft)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

// reportSchema is the schema of command's report whose data has type data.
func reportSchema(command string, data reflect.Type) map[string]any {
	g := &schemaGen{defs: map[string]any{}}
	var dataSchema any = map[string]any{"type": "null"}
	if data != nil {
		dataSchema = g.of(data)
	}
	summary := g.of(reflect.TypeOf(report.Summary{}))
	finding := g.of(reflect.TypeOf(report.Finding{}))
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/ctsec/ctsec/docs/schema/" + schemaFile(command),
		"title":       "ctsec " + command + " --format json",
		"description": "Generated from the Go types by go test ./cmd/ctsec -run TestGoldens -update; see docs/cli.md.",
		"type":        "object",
		"properties": map[string]any{
			"tool":     map[string]any{"const": "ctsec"},
			"command":  map[string]any{"const": command},
			"findings": map[string]any{"type": "array", "items": finding},
			"summary":  summary,
			"data":     dataSchema,
		},
		"required":             []string{"tool", "command", "findings", "summary", "data"},
		"additionalProperties": false,
		"$defs":                g.defs,
	}
}

func schemaFile(command string) string { return strings.ReplaceAll(command, " ", "-") + ".json" }
