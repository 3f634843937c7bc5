package record

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ctsec/ctsec/internal/testenv"
)

// waitAddr waits for the test HTTP server to write its address.
func waitAddr(t *testing.T, path string, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			return string(b)
		}
		select {
		case <-exited:
			return ""
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatal("HTTP server wrote no address within 20s")
	return ""
}

// load sends 8×40 requests on fresh connections, then /quit; it returns
// the number of failed requests.
func load(addr string) int {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				resp, err := client.Get("http://" + addr + "/hello")
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					ok = ok && strings.TrimSpace(string(body)) == "hello"
				}
				if !ok {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if resp, err := client.Get("http://" + addr + "/quit"); err == nil {
		resp.Body.Close()
	}
	return failed
}

// TestRecordGoHTTPServer records a multi-threaded Go HTTP server under load,
// runs it again under the recorded profile with the same load, then without
// accept4, which must break it.
func TestRecordGoHTTPServer(t *testing.T) {
	testenv.Root(t)
	exe, _ := os.Executable()
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	type recorded struct {
		res *Result
		err error
	}
	done := make(chan recorded, 1)
	exited := make(chan struct{})
	go func() {
		res, err := Record(context.Background(), Options{Args: []string{exe, serverCommand, addrFile}, Shim: testShim(t), Stderr: os.Stderr})
		done <- recorded{res, err}
		close(exited)
	}()
	addr := waitAddr(t, addrFile, exited)
	if failed := load(addr); failed > 0 {
		t.Errorf("%d requests failed while recording", failed)
	}
	r := <-done
	if r.err != nil || r.res.ExitCode != 0 {
		t.Fatalf("recording the server: %v %+v", r.err, r.res)
	}
	obs := r.res.Observation
	names := obs.Names()
	for _, want := range []string{"accept4", "futex", "epoll_ctl", "setsockopt", "listen", "bind"} {
		if !names[want] {
			t.Errorf("server recording lacks %s", want)
		}
	}
	if !names["clone"] && !names["clone3"] { // threads: Go's own or glibc's (cgo)
		t.Error("server recording has no thread creation")
	}
	t.Logf("Go HTTP server under load: %d syscalls, %d notifications", len(names), r.res.Answered)

	run := func(profile string) (failed int, err error) {
		addrFile := filepath.Join(t.TempDir(), "addr")
		cmd := exec.Command(exe, applyCommand, profile, "--", exe, serverCommand, addrFile)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		if addr := waitAddr(t, addrFile, exited); addr != "" {
			failed = load(addr)
		}
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if waitErr != nil {
			waitErr = fmt.Errorf("%v: %s", waitErr, stderr.String())
		}
		return failed, waitErr
	}
	p := writeProfile(t, &obs, ProfileOptions{})
	if failed, err := run(p); failed > 0 || err != nil {
		t.Fatalf("server under its recorded profile: %d requests failed, %v", failed, err)
	}
	p = writeProfile(t, withoutSyscall(t, obs, "accept4"), ProfileOptions{})
	failed, err := run(p)
	if failed == 0 && err == nil {
		t.Fatal("server worked without accept4")
	}
	t.Logf("without accept4: %d requests failed, server: %v", failed, err)
}
