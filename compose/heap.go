package compose

import (
	"regexp"
	"strconv"
	"strings"
)

// A memory limit below what the service's runtime is told it may use
// kills it: a JVM started with -Xmx1g under mem_limit: 1g dies as soon as
// the heap fills, off-heap memory on top. heapSetting finds such settings
// in an environment (KEY=VALUE) and a command line (HeapSetting).

var (
	reXmx      = regexp.MustCompile(`(?:^|\s)-Xmx([0-9]+)([kKmMgGtT]?)\b`)
	reXms      = regexp.MustCompile(`(?:^|\s)-Xms([0-9]+)([kKmMgGtT]?)\b`)
	reOldSpace = regexp.MustCompile(`--max-old-space-size=([0-9]+)\b`)
	reHeapVar  = regexp.MustCompile(`^(?:[A-Z0-9_]*_)?(?:MAX_)?HEAP(?:_SIZE)?(?:_MAX)?$`)
	reSize     = regexp.MustCompile(`^([0-9]+)([kKmMgGtT]?)[bB]?$`)
)

// HeapSetting is the largest heap an environment and command line ask for.
func HeapSetting(env []string, args []string) *Heap {
	var best *Heap
	note := func(bytes int64, evidence string) {
		if bytes > 0 && (best == nil || bytes > best.Bytes) {
			best = &Heap{Bytes: bytes, Evidence: evidence}
		}
	}
	scan := func(where, s string) {
		// The maximum heap; the initial one only counts where no maximum
		// is given (it is then the floor the JVM starts at).
		xmx := reXmx.FindAllStringSubmatch(s, -1)
		if len(xmx) == 0 {
			xmx = reXms.FindAllStringSubmatch(s, -1)
		}
		for _, m := range xmx {
			note(sizeOf(m[1], m[2], 1), where+": "+strings.TrimSpace(m[0]))
		}
		for _, m := range reOldSpace.FindAllStringSubmatch(s, -1) {
			note(sizeOf(m[1], "m", 1), where+": "+m[0]) // node: MiB
		}
	}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		scan("environment "+k, v)
		if reHeapVar.MatchString(strings.ToUpper(k)) {
			if m := reSize.FindStringSubmatch(strings.TrimSpace(v)); m != nil {
				note(sizeOf(m[1], m[2], 1<<20), "environment "+k+"="+v)
			}
		}
	}
	for _, a := range args {
		scan("command", a)
	}
	return best
}

// sizeOf reads a number with a k/m/g/t suffix; without one it is in units
// of bare (bytes for -Xmx, MiB for the HEAP_SIZE variables).
func sizeOf(num, suffix string, bare int64) int64 {
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	mult := bare
	switch strings.ToLower(suffix) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	case "t":
		mult = 1 << 40
	}
	if n > (1<<62)/mult {
		return 0
	}
	return n * mult
}

// ParseBytes reads a compose size ("512m", "1g", "1073741824", "1.5g")
// as docker does (go-units RAMInBytes: binary multiples).
func ParseBytes(s string) (int64, bool) {
	s = strings.TrimSpace(strings.ToLower(s))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "b"), "i")
	mult := float64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*mult > 1<<62 {
		return 0, false
	}
	return int64(f * mult), true
}

// FormatBytes writes a size the way compose files do, in whole MiB or GiB.
func FormatBytes(n int64) string {
	mib := (n + 1<<20 - 1) >> 20
	if mib%1024 == 0 && mib > 0 {
		return strconv.FormatInt(mib/1024, 10) + "g"
	}
	return strconv.FormatInt(mib, 10) + "m"
}
