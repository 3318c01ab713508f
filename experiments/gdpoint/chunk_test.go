package gdpoint

import (
	"github.com/mhattn/mha/datasets"
	"strings"
	"testing"

	"github.com/mhattn/mha/graph"
)

// TestChunkSamplesValidate: chunk_samples < 1 and a chunk whose graph
// buffers exceed max_memory are refused, naming the fields and the range.
func TestChunkSamplesValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // nil: valid
	}{
		{"default", func(c *Config) {}, nil},
		{"one", func(c *Config) { c.ChunkSamples = 1 }, nil},
		{"zero", func(c *Config) { c.ChunkSamples = 0 }, []string{"chunk_samples = 0", ">= 1"}},
		{"negative", func(c *Config) { c.ChunkSamples = -7 }, []string{"chunk_samples = -7", ">= 1"}},
		// d = 16, T = 8, H = 4: a sample's buffers are 8*16*8*4*24 B = 96 KiB.
		{"fits", func(c *Config) { c.Heads, c.ChunkSamples, c.MaxMemory = 4, 10, "1M" }, nil},
		{"too large", func(c *Config) { c.Heads, c.ChunkSamples, c.MaxMemory = 4, 11, "1M" },
			[]string{"chunk_samples = 11", "max_memory = 1M", "[1, 10]", "heads = 4"}},
		{"one sample too large", func(c *Config) { c.Heads, c.ChunkSamples, c.MaxMemory = 4, 1, "64K" },
			[]string{"chunk_samples = 1", "max_memory = 64K", "one sample needs about 96.0 KiB"}},
		// The chunk in force is at most the larger set: 512 samples.
		{"larger than the sets", func(c *Config) { c.Heads, c.ChunkSamples, c.MaxMemory = 1, 1<<20, "13M" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig("out")
			// The sizes the cases are worked out for: d = 16, T = 8,
			// n = 256, n_test = 512.
			c.Data = datasets.DefaultMixture()
			c.Data.Test = 512
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestChunkSamplesResolve: the default is graph.DefaultChunkSamples,
// and Resolve lowers a chunk larger than both sets to the larger set, so
// that every chunk size that runs the sets whole gives one identity.
func TestChunkSamplesResolve(t *testing.T) {
	for _, tc := range []struct{ train, test, chunk, want int }{
		{256, 512, graph.DefaultChunkSamples, 512},
		{256, 512, 100000, 512},
		{256, 512, 300, 300},
		{2048, 512, graph.DefaultChunkSamples, graph.DefaultChunkSamples},
		{2048, 512, 1, 1},
		{256, 512, 0, 0},   // refused by Validate, not hidden
		{256, 512, -3, -3}, // likewise
	} {
		c := DefaultConfig("out")
		if c.ChunkSamples != graph.DefaultChunkSamples {
			t.Fatalf("default chunk_samples %d, want %d", c.ChunkSamples, graph.DefaultChunkSamples)
		}
		c.Data.Train, c.Data.Test, c.ChunkSamples = tc.train, tc.test, tc.chunk
		c.Resolve()
		if c.ChunkSamples != tc.want {
			t.Errorf("train %d, test %d, chunk %d: resolved to %d, want %d", tc.train, tc.test, tc.chunk, c.ChunkSamples, tc.want)
		}
		if got := c.GraphOptions().ChunkSamples; got != c.ChunkSamples {
			t.Errorf("GraphOptions: %d, want %d", got, c.ChunkSamples)
		}
	}
}

// TestMemoryPerChunk: the graph term of the estimate grows with the
// samples one chunk holds (plus the tail's graph), not with n: at n =
// 10^5 with chunks of 1000 it is that of 1000 samples; the certificate's
// evaluator, which works in chunks of graph.DefaultChunkSamples, raises it
// for training points of the paper's model.
func TestMemoryPerChunk(t *testing.T) {
	perSample := func(c *Config) float64 { return c.chunkBytes(1) }
	graphTerm := func(terms []string) string {
		for _, s := range terms {
			if strings.HasPrefix(s, "graph buffers") {
				return s
			}
		}
		return ""
	}
	c := DefaultConfig("out")
	c.Data.Tokens, c.Data.Dim, c.Heads = 16, 32, 16
	c.Data.Train, c.Data.Test = 100000, 500

	whole := c
	whole.ChunkSamples = 100000
	bWhole, _ := Memory(&whole)
	c.ChunkSamples = 1000 // 100 chunks, no tail
	b, terms := Memory(&c)
	if got, want := bWhole-b, perSample(&c)*(100000-1000); got != want {
		t.Errorf("chunks of 1000 save %g bytes over one chunk, want %g", got, want)
	}
	if g := graphTerm(terms); !strings.Contains(g, "chunk_samples = 1000") || !strings.Contains(g, "1000 samples in graphs") {
		t.Errorf("graph term %q: want 1000 samples named with chunk_samples", g)
	}
	c.ChunkSamples = 3000 // 33 chunks and a tail of 1000
	b3, _ := Memory(&c)
	if got, want := b3-b, perSample(&c)*3000; got != want {
		t.Errorf("chunks of 3000 with a tail of 1000 add %g bytes over chunks of 1000, want %g", got, want)
	}
	c.ChunkSamples = 100
	bt, terms := MemoryTrain(&c)
	bn, _ := MemoryNTK(&c)
	if got, want := bt-bn, perSample(&c)*float64(graph.DefaultChunkSamples+100000%graph.DefaultChunkSamples-100); got != want {
		t.Errorf("the certificate's evaluator adds %g bytes, want %g", got, want)
	}
	if g := graphTerm(terms); !strings.Contains(g, "certificate") {
		t.Errorf("graph term %q does not name the certificate's evaluator", g)
	}
	for _, s := range []string{"NTK Gram", "per-sample gradients"} {
		if !strings.Contains(strings.Join(terms, "; "), s) {
			t.Errorf("MemoryTrain lacks the term %q: %v", s, terms)
		}
	}
	// Another model kind has no certificate.
	c.Model.Kind, c.Eta = "kq", 0.1
	bk, _ := MemoryTrain(&c)
	bkn, _ := MemoryNTK(&c)
	if bk != bkn {
		t.Errorf("model kind kq: MemoryTrain %g, MemoryNTK %g: want equal (no certificate)", bk, bkn)
	}
}
