// Command genlog writes a synthetic audit.log for measuring
// `ctsec apparmor review` (see docs/apparmor-review.md):
//
//	go run ./apparmor/auditlog/testdata/genlog -size 1073741824 > /tmp/audit-1g.log
//
// -shapes reads a log on stdin instead and counts its distinct AppArmor
// event shapes (records with the audit stamp taken out).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/ctsec/ctsec/apparmor/internal/loggen"
)

func main() {
	var o loggen.Options
	flag.Int64Var(&o.Size, "size", 1<<30, "bytes to write")
	flag.IntVar(&o.Percent, "percent", 10, "share of lines that are AppArmor records")
	flag.IntVar(&o.Profiles, "profiles", 30, "distinct profiles")
	flag.IntVar(&o.Days, "days", 29, "days the timestamps span")
	flag.Uint64Var(&o.Seed, "seed", 0, "random seed")
	shapes := flag.Bool("shapes", false, "count the distinct AppArmor event shapes of the log on stdin")
	flag.Parse()
	if *shapes {
		n, events := countShapes()
		fmt.Printf("%d AppArmor records, %d distinct shapes\n", events, n)
		return
	}
	lines, err := loggen.Generate(os.Stdout, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "genlog: %d lines\n", lines)
}

func countShapes() (int, int) {
	seen := map[string]struct{}{}
	events := 0
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("apparmor=")) {
			continue
		}
		events++
		if i := bytes.Index(line, []byte("): ")); i >= 0 {
			line = line[i+3:]
		}
		seen[string(line)] = struct{}{}
	}
	return len(seen), events
}
