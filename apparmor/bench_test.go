package apparmor

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// bigProfile is a profile of n file rules with log-like literal paths.
func bigProfile(n int) *Profile {
	p := &Profile{Name: "ctsec-bench", Flags: []string{"complain"}}
	for i := 0; i < n; i++ {
		p.Rules = append(p.Rules, File{Path: Literal(fmt.Sprintf("/var/lib/app/data %d/[file]*.db", i)), Perms: "rw"})
	}
	return p
}

func BenchmarkRender1000Rules(b *testing.B) {
	p := bigProfile(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse1000Rules(b *testing.B) {
	text, _ := bigProfile(1000).Bytes()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench", bytes.NewReader(text)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDockerDefault(b *testing.B) {
	text, _ := DockerDefault(TemplateOptions{Name: "docker-default"})
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := ParseProfile("bench", text); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	spec, err := LoadSpec("testdata/spec/web.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Generate(spec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHas1000 is the de-duplication of one log-derived rule against a
// 1000-rule profile.
func BenchmarkHas1000(b *testing.B) {
	p := bigProfile(1000)
	r := File{Path: Literal("/var/lib/app/data 999/[file]*.db"), Perms: "rw"}
	for b.Loop() {
		if !p.Has(r) {
			b.Fatal("not found")
		}
	}
}

func BenchmarkEscapeLiteral(b *testing.B) {
	s := "/" + strings.Repeat("a*b{c}\"d\\e\n", 20)
	for b.Loop() {
		_ = Literal(s).String()
	}
}

// BenchmarkAdd1000Into1000 de-duplicates 1000 candidate rules (half new)
// against a 1000-rule profile.
func BenchmarkAdd1000Into1000(b *testing.B) {
	cands := bigProfile(1500).Rules[500:]
	for b.Loop() {
		p := bigProfile(1000)
		if n := p.Add(cands...); n != 500 {
			b.Fatalf("added %d", n)
		}
	}
}
