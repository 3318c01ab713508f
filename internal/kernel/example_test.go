package kernel_test

import (
	"fmt"
	"os"

	"github.com/mhattn/mha/internal/kernel"
)

// A program applies MHA_KERNEL before any computation, exits 2 on a bad
// value, and records the kernel in force with its results.
func ExampleSelect() {
	name, err := kernel.Select()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_ = name // "vectorized" or "portable", for config.json
}
