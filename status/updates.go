package status

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ctsec/ctsec/internal/clock"
	"github.com/ctsec/ctsec/internal/execx"
)

// pendingUpdates is what apt would install now, from the package lists it
// has.
type pendingUpdates struct {
	asked    bool
	err      error
	security []Upgrade
	other    int
	// listsAge is how old the newest package list is (zero when unknown).
	listsAge time.Duration
	listsAt  time.Time
}

// Upgrade is one package apt would upgrade.
type Upgrade struct {
	Package string `json:"package"`
	From    string `json:"from,omitempty"`
	To      string `json:"to"`
	Origin  string `json:"origin"`
}

// staleLists is when package lists are too old for "nothing pending" to
// mean anything.
const staleLists = 7 * 24 * time.Hour

// inst is apt-get --simulate's line for a package it would install:
// "Inst NAME [OLD] (NEW ORIGIN, ORIGIN [ARCH])".
var inst = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^\[]*?)\s*(?:\[[^\]]*\])?\)`)
})

// ParseSimulate reads `apt-get --simulate dist-upgrade`: the upgrades from
// a security origin, and how many others there are.
func ParseSimulate(out []byte) (security []Upgrade, other int) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := inst().FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		u := Upgrade{Package: m[1], From: m[2], To: m[3], Origin: strings.TrimSpace(m[4])}
		if strings.Contains(strings.ToLower(u.Origin), "security") {
			security = append(security, u)
		} else {
			other++
		}
	}
	return security, other
}

// simulateUpgrade asks apt, without locking or changing anything, what a
// dist-upgrade would install.
func simulateUpgrade(ctx context.Context, r execx.Runner, clk clock.Clock) pendingUpdates {
	p := pendingUpdates{asked: true}
	res, err := r.Run(ctx, "apt-get", "--simulate", "-o", "Debug::NoLocking=1", "-qq", "dist-upgrade")
	switch {
	case err != nil:
		p.err = err
		return p
	case res.ExitCode != 0:
		p.err = fmt.Errorf("apt-get --simulate dist-upgrade: %s", execx.FirstLine(res.Stderr))
		return p
	}
	p.security, p.other = ParseSimulate(res.Stdout)
	if at, ok := newestList("/var/lib/apt/lists"); ok {
		p.listsAt = at
		p.listsAge = clock.Or(clk).Now().Sub(at)
	}
	return p
}

// newestList is the time of the newest Release file apt fetched.
func newestList(dir string) (time.Time, bool) {
	var newest time.Time
	matches, _ := filepath.Glob(filepath.Join(dir, "*Release"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	return newest, !newest.IsZero()
}
