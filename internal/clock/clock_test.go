package clock

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFixedAndOr(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := Or(Fixed(at)).Now(); !got.Equal(at) {
		t.Errorf("Fixed: %v, want %v", got, at)
	}
	if _, ok := Or(nil).(System); !ok {
		t.Errorf("Or(nil) is %T, want System", Or(nil))
	}
}

func TestStepIsOrderedAndConcurrent(t *testing.T) {
	start := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	s := NewStep(start, time.Microsecond)
	var mu sync.Mutex
	seen := map[time.Time]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				n := s.Now()
				mu.Lock()
				seen[n] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 800 {
		t.Fatalf("%d distinct readings of 800", len(seen))
	}
	if next := s.Now(); !next.Equal(start.Add(800 * time.Microsecond)) {
		t.Errorf("801st reading %v, want start+800µs", next)
	}
}

// Every reading of the wall clock in the product's code goes through this
// package. The few that measure elapsed time only (a socket deadline,
// throttling progress output) say so on the line with "// elapsed".
func TestNoWallClockOutsideClock(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	call := regexp.MustCompile(`\btime\.(Now|Since|Until)\b`)
	var bad []string
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "testdata" || path == filepath.Join(root, "internal", "clock") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if call.MatchString(line) && !strings.Contains(line, "// elapsed") {
				rel, _ := filepath.Rel(root, path)
				bad = append(bad, rel+":"+strconv.Itoa(n)+": "+strings.TrimSpace(line))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("reads the wall clock; take a clock.Clock (or mark an elapsed-time measurement // elapsed): %s", b)
	}
}
