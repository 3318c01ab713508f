package runner

import (
	"strings"
	"testing"
)

func TestWriteNoteWraps(t *testing.T) {
	var b strings.Builder
	text := strings.Repeat("word ", 40) + strings.Repeat("x", 90)
	if err := WriteNote(WithTableWidth(&b, 30), "note:", "  ", text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) < 7 || !strings.HasPrefix(lines[0], "note: word") || lines[len(lines)-1] != "  "+strings.Repeat("x", 90) {
		t.Errorf("wrapped:\n%s", b.String())
	}
	for _, l := range lines[:len(lines)-1] {
		if len(l) > 30 || (l != lines[0] && !strings.HasPrefix(l, "  word")) {
			t.Errorf("line %q", l)
		}
	}
	if got := strings.Join(strings.Fields(b.String()), " "); got != "note: "+strings.Join(strings.Fields(text), " ") {
		t.Errorf("words changed: %q", got)
	}
	b.Reset()
	WriteNote(WithTableWidth(&b, 0), "n:", "  ", text)
	if strings.Count(b.String(), "\n") != 1 {
		t.Errorf("width 0 wrapped: %q", b.String())
	}
}
