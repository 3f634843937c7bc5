package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

func TestBusyboxImageRuns(t *testing.T) {
	docker := Docker(t)
	img := Busybox(t)
	out, err := exec.Command(docker, "run", "--rm", "--network", "none", img, "sh", "-c", "echo ok; id -u").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || got[0] != "ok" || got[1] != "0" {
		t.Errorf("container printed %q", out)
	}
}

func TestShared(t *testing.T) {
	p := Shared(t, "DESIGN.md")
	if !strings.HasSuffix(p, "shared/DESIGN.md") {
		t.Errorf("Shared = %s", p)
	}
}
