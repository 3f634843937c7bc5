package auditlog

import (
	"bytes"
	"io"
	"testing"

	"github.com/ctsec/ctsec/apparmor/internal/loggen"
)

// BenchmarkReader measures the streaming reader (parse, dedup) over a
// synthetic audit.log in which 10% of the lines are AppArmor events.
func BenchmarkReader(b *testing.B) {
	data, lines := loggen.Data(64<<20, 10)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		m := NewMerge(NewReader(bytes.NewReader(data), Options{}))
		n := 0
		for {
			_, err := m.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n == 0 {
			b.Fatal("no events")
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkParseRecord(b *testing.B) {
	line := []byte(`type=AVC msg=audit(1795000000.100:101): apparmor="ALLOWED" operation="open" class="file" profile="ctsec-web" name="/etc/nginx/nginx.conf" pid=4242 comm="nginx" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		ev := ParseRecord(line)
		if ev.Kind != Allowed {
			b.Fatal(ev.Kind)
		}
	}
}
