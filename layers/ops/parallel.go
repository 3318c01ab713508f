package ops

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// threads is the goroutine count set by SetThreads; 0 follows GOMAXPROCS.
var threads atomic.Int64

// SetThreads sets how many goroutines one run of an op that splits its
// batch may use: a pass of the fused Attention (forward, or one of its two
// backward passes) or a BatchedMatMul. The default is GOMAXPROCS. Results do
// not depend on it, bit for bit: the parts are fixed by the sizes alone. A
// sweep running several models at once should give each cores/workers
// threads.
func SetThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("ops.SetThreads: threads = %d, want >= 1", n)
	}
	threads.Store(int64(n))
	return nil
}

// Threads returns the goroutine count in force: the value of the last
// SetThreads, or GOMAXPROCS.
func Threads() int {
	if n := threads.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}

// maxParts bounds the parts a batch is split into (see Attention): enough
// to balance 1, 2, 3, 4, 8, 16 or 32 goroutines, few enough that the
// per-part gradient sums stay small next to the op's other buffers.
const maxParts = 32

// partBounds splits n samples into min(n, maxParts) runs of consecutive
// samples whose sizes differ by at most one; part p is
// [bounds[p], bounds[p+1]). The split depends on n alone.
func partBounds(n int) []int {
	parts := min(n, maxParts)
	bounds := make([]int, parts+1)
	for p := range bounds {
		bounds[p] = p * n / parts
	}
	return bounds
}

// workBuf is one goroutine's scratch memory.
type workBuf struct {
	q       []float64 // one chunk's queries or query gradients: [chunk*Rows][H*d]
	scratch []float64 // one sequence's rows: [Rows*H][T]
}

// forParts calls work(buf, p) once for every part p, on up to Threads()
// goroutines, each with its own scratch buffers (allocated on first use
// and kept). Parts are handed out in order; which goroutine runs a part
// never changes what it computes.
func (st *attnState) forParts(work func(buf *workBuf, p int)) {
	parts := len(st.bounds) - 1
	nt := min(Threads(), parts)
	for len(st.bufs) < nt {
		st.bufs = append(st.bufs, &workBuf{
			q:       make([]float64, st.chunk*st.Rows*st.Heads*st.Dim),
			scratch: make([]float64, st.Rows*st.Heads*st.Tokens),
		})
	}
	if nt <= 1 {
		for p := 0; p < parts; p++ {
			work(st.bufs[0], p)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(nt)
	for _, buf := range st.bufs[:nt] {
		go func() {
			defer wg.Done()
			for p := int(next.Add(1) - 1); p < parts; p = int(next.Add(1) - 1) {
				work(buf, p)
			}
		}()
	}
	wg.Wait()
}

// sumParts sets dst to the sum of the per-part vectors in parts (each
// len(dst) long, part p at parts[p*len(dst):]), adding them in part order
// for every element.
func sumParts(dst, parts []float64) {
	size := len(dst)
	copy(dst, parts[:size])
	for off := size; off < len(parts); off += size {
		for j, v := range parts[off : off+size] {
			dst[j] += v
		}
	}
}
