package datasets_test

import (
	"fmt"
	"log"
	"os"

	"github.com/mhattn/mha/datasets"
)

// Example draws a small tokenized mixture, looks at one sequence, and saves
// and reloads it.
func Example() {
	cfg := datasets.DefaultMixture()
	cfg.Train, cfg.Test = 4, 2
	train, test, err := cfg.Generate()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("train X: [%d, %d, %d], test X: [%d, %d, %d]\n", train.N, train.T, train.D, test.N, test.T, test.D)
	fmt.Println("relevant tokens per sequence:", cfg.Relevant())

	// Sequence 0: its label, and which tokens carry it. mu_+ = S e_1 and
	// mu_- = S e_2 live on axes 0 and 1, the noise centres nu_j on axes 2..5.
	i := 0
	fmt.Println("y =", train.Y[i])
	for t := range train.T {
		x := train.X[(i*train.T+t)*train.D : (i*train.T+t+1)*train.D]
		fmt.Printf("token %d relevant=%-5v x[:6] = %5.2f\n", t, train.Mask[i*train.T+t], x[:6])
	}

	dir, err := os.MkdirTemp("", "mixture")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := datasets.Save(dir, train, test, &cfg); err != nil {
		log.Fatal(err)
	}
	_, test2, cfg2, err := datasets.Load(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reloaded:", test2.N, "test sequences, seed", cfg2.Seed)
	// Output:
	// train X: [4, 8, 16], test X: [2, 8, 16]
	// relevant tokens per sequence: 2
	// y = -1
	// token 0 relevant=false x[:6] = [-0.01 -0.10  0.93 -0.09  0.07  0.04]
	// token 1 relevant=false x[:6] = [ 0.00  0.15  0.02 -0.11  0.12  0.83]
	// token 2 relevant=false x[:6] = [-0.06 -0.05  1.04 -0.07 -0.04 -0.06]
	// token 3 relevant=true  x[:6] = [ 0.00  1.21  0.01  0.01 -0.07  0.00]
	// token 4 relevant=false x[:6] = [-0.07  0.07  1.01  0.04 -0.06 -0.01]
	// token 5 relevant=false x[:6] = [-0.22 -0.04 -0.03  1.21  0.06 -0.02]
	// token 6 relevant=false x[:6] = [-0.10  0.15  0.03  0.11  0.04  0.97]
	// token 7 relevant=true  x[:6] = [-0.01  1.12 -0.13  0.06  0.03  0.03]
	// reloaded: 2 test sequences, seed 1
}
