package kernel

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// Names of the kernels and of the automatic choice.
const (
	Auto       = "auto"
	Vectorized = "vectorized"
	Portable   = "portable"
)

// Env is the environment variable read by Select.
const Env = "MHA_KERNEL"

var available = runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasFMA

// Available reports whether the vectorized kernel can run on this machine.
func Available() bool { return available }

var vectorized atomic.Bool

func init() {
	// A bad value is reported by Select; here it leaves the automatic choice.
	if err := Use(os.Getenv(Env)); err != nil {
		vectorized.Store(available)
	}
}

// Select applies MHA_KERNEL and returns the name of the kernel in force
// ("vectorized" or "portable"). For a value other than "", "auto",
// "vectorized" and "portable", or "vectorized" on a machine without
// AVX2/FMA, it returns an error naming the allowed values and leaves the
// automatic choice in force.
func Select() (string, error) {
	if err := Use(os.Getenv(Env)); err != nil {
		vectorized.Store(available)
		return Name(), fmt.Errorf("%s: %w", Env, err)
	}
	return Name(), nil
}

// Use puts a kernel in force by name: "" or "auto", "vectorized", or
// "portable". It returns an error for any other name and for "vectorized"
// where the CPU lacks AVX2 or FMA, leaving the kernel unchanged.
func Use(name string) error {
	switch name {
	case "", Auto:
		vectorized.Store(available)
	case Vectorized:
		if !available {
			return fmt.Errorf("kernel %q needs an amd64 CPU with AVX2 and FMA, this one has none; use %q or %q", name, Auto, Portable)
		}
		vectorized.Store(true)
	case Portable:
		vectorized.Store(false)
	default:
		return fmt.Errorf("unknown kernel %q, want one of \"\", %q, %q, %q", name, Auto, Vectorized, Portable)
	}
	return nil
}

// Name returns the kernel in force: "vectorized" or "portable".
func Name() string {
	if vectorized.Load() {
		return Vectorized
	}
	return Portable
}

// IsVectorized reports whether the vectorized kernel is in force; the
// kernels ask on every call.
func IsVectorized() bool { return vectorized.Load() }
