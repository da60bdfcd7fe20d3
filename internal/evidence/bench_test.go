package evidence_test

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/evidence"
)

// benchMiB is the size of the benchmarks' file: WARD_BENCH_EVIDENCE_MIB,
// else 512 MiB.
func benchMiB(b *testing.B) int64 {
	if v := os.Getenv("WARD_BENCH_EVIDENCE_MIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			b.Fatalf("WARD_BENCH_EVIDENCE_MIB=%q", v)
		}
		return n
	}
	return 512
}

// endless is size bytes of a random MiB repeated: a stream as a request
// body is, made at no cost (AES-GCM takes repeated data no faster).
type endless struct {
	block []byte
	left  int64
	off   int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), e.left)], e.block[e.off:])
	e.off = (e.off + n) % len(e.block)
	e.left -= int64(n)
	return n, nil
}

// peakRSSMiB is the process's peak resident memory (VmHWM) in MiB.
func peakRSSMiB(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkEvidenceAdd streams a file into the vault (hashed, encrypted,
// stored in chunks) and then re-hashes it (VerifyAll), on each database,
// reporting MB/s of each, the CPU seconds and the peak RSS, which must
// stay flat whatever the file's size.
func BenchmarkEvidenceAdd(b *testing.B) {
	size := benchMiB(b) << 20
	for _, target := range dbtest.Targets(b) {
		b.Run(string(target.Dialect), func(b *testing.B) {
			benchAdd(b, dbtest.Open(b, target.URL), size)
		})
	}
}

func benchAdd(b *testing.B, d *db.DB, size int64) {
	e := newEnv(b, d, 0)
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7919 >> 3)
	}
	b.SetBytes(size)
	b.ResetTimer()
	var addSecs, verifySecs float64
	cpu0 := cpuSeconds()
	for range b.N {
		t0 := time.Now()
		it, err := e.ev.Add(officer, e.inc.Number, evidence.Upload{Description: "disk image"}, &endless{block: block, left: size})
		if err != nil {
			b.Fatal(err)
		}
		addSecs += time.Since(t0).Seconds()
		if it.Size != size {
			b.Fatalf("stored %d bytes of %d", it.Size, size)
		}
		t1 := time.Now()
		rep, err := e.ev.VerifyAll(authz.WithActor(context.Background(), authz.System))
		if err != nil || len(rep.Failed) != 0 {
			b.Fatalf("verify: %+v %v", rep, err)
		}
		verifySecs += time.Since(t1).Seconds()
	}
	b.StopTimer()
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/addSecs, "add-MB/s")
	b.ReportMetric(mb/verifySecs, "verify-MB/s")
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "CPU-s/op")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
}
