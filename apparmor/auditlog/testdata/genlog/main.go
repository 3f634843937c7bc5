// Command genlog writes a synthetic audit.log for measuring
// `ctsec apparmor review` (see docs/apparmor-review.md):
//
//	go run ./apparmor/auditlog/testdata/genlog -size 1073741824 -percent 10 > /tmp/audit-1g.log
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ctsec/ctsec/apparmor/internal/loggen"
)

func main() {
	size := flag.Int64("size", 1<<30, "bytes to write")
	percent := flag.Int("percent", 10, "share of lines that are AppArmor events")
	flag.Parse()
	lines, err := loggen.Write(os.Stdout, *size, *percent)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "genlog: %d lines\n", lines)
}
