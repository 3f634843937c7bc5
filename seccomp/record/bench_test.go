package record

import (
	"context"
	"os/exec"
	"strconv"
	"testing"

	"github.com/ctsec/ctsec/internal/testenv"
)

// ddBlocks is the size of the syscall-heavy workload: busybox dd copying
// one byte at a time makes one read and one write per block.
const ddBlocks = 100000

// BenchmarkOverhead compares the recorder with strace on the same
// syscall-heavy workload; ns/syscall is the figure to compare:
//
//	go test ./seccomp/record -run '^$' -bench Overhead -benchtime 5x
func BenchmarkOverhead(b *testing.B) {
	testenv.Root(b)
	busybox := testenv.Tool(b, "busybox")
	strace := testenv.Tool(b, "strace")
	dd := []string{busybox, "dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=" + strconv.Itoa(ddBlocks)}
	const syscalls = 2 * ddBlocks
	perSyscall := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*syscalls), "ns/syscall")
	}
	b.Run("bare", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command(dd[0], dd[1:]...).Run(); err != nil {
				b.Fatal(err)
			}
		}
		perSyscall(b)
	})
	b.Run("strace", func(b *testing.B) {
		args := append([]string{"-f", "-c", "-o", "/dev/null"}, dd...)
		for b.Loop() {
			if err := exec.Command(strace, args...).Run(); err != nil {
				b.Fatal(err)
			}
		}
		perSyscall(b)
	})
	b.Run("record", func(b *testing.B) {
		for b.Loop() {
			res, err := Record(context.Background(), Options{Args: dd, Shim: testShim(b)})
			if err != nil || res.ExitCode != 0 {
				b.Fatal(err, res)
			}
		}
		perSyscall(b)
	})
}
