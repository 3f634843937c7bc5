package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

func TestDescribeRealEngine(t *testing.T) {
	testenv.Docker(t)
	c, err := Connect("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := Describe(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version == "" || !strings.HasPrefix(s.APIVersion, "1.") {
		t.Errorf("summary = %+v", s)
	}
	found := false
	for _, o := range s.SecurityOptions {
		found = found || strings.Contains(o, "seccomp")
	}
	if !found {
		t.Errorf("engine reports no seccomp security option: %v", s.SecurityOptions)
	}
}

func TestDescribeUnreachable(t *testing.T) {
	c, err := Connect("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = Describe(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/docker.sock") {
		t.Fatalf("err = %v", err)
	}
}
