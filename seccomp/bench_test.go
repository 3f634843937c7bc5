package seccomp

import (
	"os"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// BenchmarkValidateCompileDefault measures what `ctsec seccomp validate`
// does with Docker's default profile on an amd64 host: strict load, name
// resolution and compilation for x86_64 + x86 + x32 (target: under 25 ms).
func BenchmarkValidateCompileDefault(b *testing.B) {
	data, err := os.ReadFile(testenv.Shared(b, "conformance", "moby-seccomp", "default.json"))
	if err != nil {
		b.Fatal(err)
	}
	t := Target{Arch: "amd64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}}
	b.ReportAllocs()
	for b.Loop() {
		p, schema, err := Parse("default.json", data)
		if err != nil {
			b.Fatal(err)
		}
		v := Validate(p, schema, t, NewResolver())
		if v.Compiled == nil || len(v.Compiled.Arches) != 3 {
			b.Fatalf("compiled %+v", v.Compiled)
		}
	}
}

// BenchmarkParts splits the figure above: ctsec's own work (strict load and
// name resolution) against libseccomp's compile and export.
func BenchmarkParts(b *testing.B) {
	data, err := os.ReadFile(testenv.Shared(b, "conformance", "moby-seccomp", "default.json"))
	if err != nil {
		b.Fatal(err)
	}
	t := Target{Arch: "amd64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}}
	b.Run("load+names", func(b *testing.B) {
		for b.Loop() {
			p, _, err := Parse("default.json", data)
			if err != nil {
				b.Fatal(err)
			}
			p.checkNames(t, NewResolver())
		}
	})
	b.Run("libseccomp-compile", func(b *testing.B) {
		p, _, _ := Parse("default.json", data)
		e := p.Resolve(t)
		for b.Loop() {
			if _, err := e.Compile(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
