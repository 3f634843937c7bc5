package seccomp

import "testing"

// TestCompileForeignArch: compiling for arm64 on another host yields an
// arm64+arm filter only, and per-arch sizes differ from amd64's.
func TestCompileForeignArch(t *testing.T) {
	p := builtin(t, "default")
	arm, err := p.Resolve(Target{Arch: "arm64", Caps: DockerDefaultCaps, Kernel: KernelVersion{6, 1}}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	amd, err := p.Resolve(amd64Target).Compile()
	if err != nil {
		t.Fatal(err)
	}
	if len(arm.Arches) != 2 || arm.Arches[0] != "arm64" || arm.Instructions == 0 || arm.Instructions == amd.Instructions {
		t.Errorf("arm64 %+v amd64 %+v", arm, amd)
	}
	if amd.Instructions < 500 || amd.Instructions > MaxInstructions || amd.Optimize != 2 {
		t.Errorf("amd64 default: %+v", amd)
	}
}
