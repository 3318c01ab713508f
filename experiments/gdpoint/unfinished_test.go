package gdpoint

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mhattn/mha/experiments/runner"
)

// TestUnfinishedIsNull: a point that never ran records its status and
// null, not 0 or a string, for every value it does not have.
func TestUnfinishedIsNull(t *testing.T) {
	c := DefaultConfig(t.TempDir())
	o := Unfinished(t.TempDir(), runner.Point{Config: &c})
	if o.Status != runner.StatusPending {
		t.Fatalf("status %q, want %q", o.Status, runner.StatusPending)
	}
	b, err := json.Marshal(o.Record)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["status"] != runner.StatusPending {
		t.Errorf("record status %v", m["status"])
	}
	for _, k := range []string{"train_loss", "test_loss", "train_err", "test_err", "dist_from_init", "relevant_attention", "eta", "wall_seconds"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	if s := string(b); strings.Contains(s, `"NaN"`) || strings.Contains(s, "Inf") {
		t.Errorf("record has a NaN or Inf string: %s", s)
	}
}
