package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteBytesCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.bin")
	for _, want := range [][]byte{[]byte("first"), []byte("second, longer"), {}} {
		if err := WriteBytes(p, want); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if n := dirEntries(t, dir); len(n) != 1 {
			t.Fatalf("directory holds %v, want only a.bin", n)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestWriteLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	want := bytes.Repeat([]byte("0123456789"), 100000) // larger than the buffer
	err := Write(p, func(w io.Writer) error {
		for i := 0; i < len(want); i += 7 {
			if _, err := w.Write(want[i:min(i+7, len(want))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, want) {
		t.Fatal("contents differ")
	}
}

func TestWriteFailingFillLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keep.txt")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 200000)) // some of it reaches the temp file
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap boom", err)
	}
	if !strings.Contains(err.Error(), p) {
		t.Errorf("error %q does not name the path", err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "old" {
		t.Fatalf("file changed to %d bytes", len(got))
	}
	if n := dirEntries(t, dir); len(n) != 1 {
		t.Fatalf("temp file left behind: %v", n)
	}
}

func TestWriteFailingFillNoFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new.txt")
	if err := Write(p, func(io.Writer) error { return errors.New("nope") }); err == nil {
		t.Fatal("want error")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("file exists after failed write: %v", err)
	}
	if n := dirEntries(t, dir); len(n) != 0 {
		t.Fatalf("left behind: %v", n)
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "dir", "f")
	if err := WriteBytes(p, []byte("x")); err == nil {
		t.Fatal("want error for a missing directory")
	}
}

func TestWriteOverDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub")
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteBytes(p, []byte("x")); err == nil {
		t.Fatal("want error when the destination is a directory")
	}
	if n := dirEntries(t, dir); len(n) != 1 {
		t.Fatalf("temp file left behind: %v", n)
	}
}

func TestWriteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := WriteBytes("rel.txt", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "rel.txt"))
	if err != nil || string(got) != "hi" {
		t.Fatalf("got %q, %v", got, err)
	}
}
