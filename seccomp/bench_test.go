package seccomp

import (
	"os"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// BenchmarkValidateCompile is the seccomp goal of issue 17 side by side
// with its anchor, in one run. "ctsec" is what `ctsec seccomp validate` does
// with Docker's default on an amd64 host for a given runc: strict load, name
// resolution per architecture, one compile (stub, filter, per-architecture
// figures). "libseccomp" is the anchor, libseccomp's own work for the same
// rules: a filter over x86_64+x86+x32, every name resolved and added,
// exported as BPF, nothing else. Goal: ctsec within 1.3x the anchor for each
// runc layout.
//
//	go test ./seccomp -run '^$' -bench BenchmarkValidateCompile -benchtime 20x -count 5
func BenchmarkValidateCompile(b *testing.B) {
	data, err := os.ReadFile(testenv.Shared(b, "conformance", "moby-seccomp", "default.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []string{"1.1.5", "1.2.0"} {
		r, _ := ParseRuncVersion(v)
		t := Target{Arch: "amd64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}, Runc: r}
		b.Run("runc="+v+"/ctsec", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, schema, err := Parse("default.json", data)
				if err != nil {
					b.Fatal(err)
				}
				v := Validate(p, schema, t, NewResolver())
				if v.Compiled == nil || len(v.Compiled.Arches) != 3 || len(v.Compiled.PerArch) != 3 {
					b.Fatalf("compiled %+v", v.Compiled)
				}
			}
		})
		p, _, _ := Parse("default.json", data)
		e := p.Resolve(t)
		b.Run("runc="+v+"/libseccomp", func(b *testing.B) {
			for b.Loop() {
				anchorExport(b, e, r.binaryTree())
			}
		})
	}
}

// anchorExport is libseccomp doing the compile alone: the effective rules,
// already decided, handed over as runc would and exported once.
func anchorExport(b *testing.B, e *Effective, tree bool) {
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Release()
	for _, a := range []libseccomp.ScmpArch{libseccomp.ArchX86, libseccomp.ArchX32} {
		if err := f.AddArch(a); err != nil {
			b.Fatal(err)
		}
	}
	if tree {
		f.SetOptimize(2)
	}
	for _, r := range e.Rules {
		act, _ := scmpAction(r.Action, r.ErrnoRet)
		if act == libseccomp.ActErrno.SetReturnCode(1) {
			continue
		}
		conds, split, _ := conditions(r.Args)
		for _, n := range r.Names {
			call, err := libseccomp.GetSyscallFromName(n)
			if err != nil {
				continue
			}
			if err := addRule(f, call, act, conds, split); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := exportBPF(f); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParts splits ctsec's figure: its own work (strict load and name
// resolution) against the compile.
func BenchmarkParts(b *testing.B) {
	data, err := os.ReadFile(testenv.Shared(b, "conformance", "moby-seccomp", "default.json"))
	if err != nil {
		b.Fatal(err)
	}
	r, _ := ParseRuncVersion("1.1.5")
	t := Target{Arch: "amd64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}, Runc: r}
	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := Parse("default.json", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("names", func(b *testing.B) {
		p, _, _ := Parse("default.json", data)
		for b.Loop() {
			p.checkNames(t, NewResolver())
		}
	})
	b.Run("compile", func(b *testing.B) {
		p, _, _ := Parse("default.json", data)
		e := p.Resolve(t)
		for b.Loop() {
			if _, err := e.Compile(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
