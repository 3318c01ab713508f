package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func encode(t testing.TB, shape []int, data []float64) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, shape, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// raw builds a file from a header dict and data bytes, version 1.0, padded
// like numpy.
func raw(dict string, data []byte) []byte {
	var b bytes.Buffer
	writeRaw(&b, 1, dict, data)
	return b.Bytes()
}

func writeRaw(b *bytes.Buffer, major byte, dict string, data []byte) {
	prefix := 10
	if major > 1 {
		prefix = 12
	}
	total := prefix + len(dict) + 1
	total += (64 - total%64) % 64
	h := dict + strings.Repeat(" ", total-prefix-len(dict)-1) + "\n"
	b.WriteString(magic)
	b.Write([]byte{major, 0})
	if major == 1 {
		binary.Write(b, binary.LittleEndian, uint16(len(h)))
	} else {
		binary.Write(b, binary.LittleEndian, uint32(len(h)))
	}
	b.WriteString(h)
	b.Write(data)
}

func f8bytes(v ...float64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		data  []float64
	}{
		{"scalar", []int{}, []float64{math.Pi}},
		{"vector", []int{3}, []float64{1, -2, 3.5}},
		{"matrix", []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}},
		{"3d", []int{2, 2, 2}, []float64{0, math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, math.MaxFloat64, -0.0, 1e-300, 7}},
		{"empty", []int{0, 5}, []float64{}},
		{"long", []int{100000}, make([]float64, 100000)}, // crosses read chunks
	}
	for i := range cases[5].data {
		cases[5].data[i] = float64(i) * 0.5
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shape, data, err := Read(bytes.NewReader(encode(t, c.shape, c.data)))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, c.shape) {
				t.Errorf("shape %v, want %v", shape, c.shape)
			}
			if len(data) != len(c.data) {
				t.Fatalf("len %d, want %d", len(data), len(c.data))
			}
			for i := range data {
				if math.Float64bits(data[i]) != math.Float64bits(c.data[i]) {
					t.Fatalf("data[%d] = %v, want %v", i, data[i], c.data[i])
				}
			}
		})
	}
}

func TestRoundTripNaN(t *testing.T) {
	_, data, err := Read(bytes.NewReader(encode(t, []int{1}, []float64{math.NaN()})))
	if err != nil || !math.IsNaN(data[0]) {
		t.Fatalf("got %v, %v", data, err)
	}
}

func TestBoolRoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := []bool{true, false, false, true, true, false}
	if err := WriteBool(&b, []int{2, 3}, in); err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(bytes.NewReader(b.Bytes()))
	if err != nil || h.Dtype != "|b1" {
		t.Fatalf("header %+v, %v", h, err)
	}
	shape, data, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shape, []int{2, 3}) || !slices.Equal(data, []float64{1, 0, 0, 1, 1, 0}) {
		t.Fatalf("got %v %v", shape, data)
	}
}

func TestHeaderLayout(t *testing.T) {
	for _, shape := range [][]int{{}, {7}, {2, 3}, {256, 8, 16}, {1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2}} {
		n := 1
		for _, s := range shape {
			n *= s
		}
		b := encode(t, shape, make([]float64, n))
		if string(b[:6]) != "\x93NUMPY" {
			t.Fatalf("magic %q", b[:6])
		}
		if b[6] != 1 || b[7] != 0 {
			t.Fatalf("version %d.%d, want 1.0", b[6], b[7])
		}
		hlen := int(binary.LittleEndian.Uint16(b[8:10]))
		if (10+hlen)%64 != 0 {
			t.Errorf("shape %v: data starts at %d, not a multiple of 64", shape, 10+hlen)
		}
		if len(b) != 10+hlen+8*n {
			t.Errorf("shape %v: file is %d bytes, want %d", shape, len(b), 10+hlen+8*n)
		}
		header := string(b[10 : 10+hlen])
		if !strings.HasSuffix(header, "\n") {
			t.Errorf("header does not end with newline: %q", header)
		}
		want := "{'descr': '<f8', 'fortran_order': False, 'shape': " + shapeString(shape) + ", }"
		if !strings.HasPrefix(header, want) || strings.TrimLeft(header[len(want):], " ") != "\n" {
			t.Errorf("header %q, want %q padded with spaces", header, want)
		}
	}
	if got := shapeString([]int{5}); got != "(5,)" {
		t.Errorf("1-tuple %q, want (5,)", got)
	}
}

func TestLargeHeaderUsesVersion2(t *testing.T) {
	shape := make([]int, 25000) // "1, " * 25000 > 65535 bytes of header
	for i := range shape {
		shape[i] = 1
	}
	b := encode(t, shape, []float64{42})
	if b[6] != 2 {
		t.Fatalf("version %d, want 2", b[6])
	}
	if hl := binary.LittleEndian.Uint32(b[8:12]); (12+hl)%64 != 0 {
		t.Fatalf("v2 header not aligned")
	}
	s, d, err := Read(bytes.NewReader(b))
	if err != nil || len(s) != 25000 || d[0] != 42 {
		t.Fatalf("got %d dims, %v, %v", len(s), d, err)
	}
}

func TestReadDtypes(t *testing.T) {
	le := binary.LittleEndian
	cases := []struct {
		descr string
		data  []byte
		want  []float64
	}{
		{"<f8", f8bytes(1.5, -2), []float64{1.5, -2}},
		{"=f8", f8bytes(1.5, -2), []float64{1.5, -2}},
		{"<f4", le.AppendUint32(le.AppendUint32(nil, math.Float32bits(1.5)), math.Float32bits(-0.25)), []float64{1.5, -0.25}},
		{"<i8", le.AppendUint64(le.AppendUint64(nil, uint64(1<<40)), uint64(0xFFFFFFFFFFFFFFFF)), []float64{1 << 40, -1}},
		{"<i4", le.AppendUint32(le.AppendUint32(nil, 7), 0xFFFFFFFE), []float64{7, -2}},
		{"<i2", le.AppendUint16(le.AppendUint16(nil, 7), 0xFFFF), []float64{7, -1}},
		{"|i1", []byte{5, 0xFF}, []float64{5, -1}},
		{"|u1", []byte{0, 255}, []float64{0, 255}},
		{"<u1", []byte{3, 4}, []float64{3, 4}},
		{"<u2", le.AppendUint16(le.AppendUint16(nil, 1), 65535), []float64{1, 65535}},
		{"<u4", le.AppendUint32(le.AppendUint32(nil, 1), 0xFFFFFFFF), []float64{1, 4294967295}},
		{"<u8", le.AppendUint64(le.AppendUint64(nil, 1), 2), []float64{1, 2}},
		{"|b1", []byte{1, 0}, []float64{1, 0}},
		{"b1", []byte{0, 1}, []float64{0, 1}},
	}
	for _, c := range cases {
		t.Run(c.descr, func(t *testing.T) {
			f := raw("{'descr': '"+c.descr+"', 'fortran_order': False, 'shape': (2,), }", c.data)
			shape, data, err := Read(bytes.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, []int{2}) || !slices.Equal(data, c.want) {
				t.Fatalf("got %v %v, want %v", shape, data, c.want)
			}
		})
	}
}

func TestReadHeaderVariants(t *testing.T) {
	cases := []struct {
		name string
		file []byte
	}{
		{"v2", func() []byte {
			var b bytes.Buffer
			writeRaw(&b, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8bytes(1, 2))
			return b.Bytes()
		}()},
		{"v3", func() []byte {
			var b bytes.Buffer
			writeRaw(&b, 3, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", f8bytes(1, 2))
			return b.Bytes()
		}()},
		{"key order and double quotes", raw(`{"shape": (2,), "fortran_order": False, "descr": "<f8"}`, f8bytes(1, 2))},
		{"python2 long", raw("{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }", f8bytes(1, 2))},
		{"fortran 1-d", raw("{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", f8bytes(1, 2))},
		{"no padding", func() []byte {
			d := "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n"
			b := []byte(magic + "\x01\x00")
			b = binary.LittleEndian.AppendUint16(b, uint16(len(d)))
			return append(append(b, d...), f8bytes(1, 2)...)
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shape, data, err := Read(bytes.NewReader(c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, []int{2}) || !slices.Equal(data, []float64{1, 2}) {
				t.Fatalf("got %v %v", shape, data)
			}
		})
	}
}

func TestReadMalformed(t *testing.T) {
	good := encode(t, []int{2, 2}, []float64{1, 2, 3, 4})
	hdr := func(d string) []byte { return raw(d, f8bytes(1, 2)) }
	cases := []struct {
		name string
		file []byte
		want string // substring of the error
	}{
		{"empty", nil, "empty input"},
		{"bad magic", append([]byte("PK\x03\x04zip!"), good[8:]...), "bad magic"},
		{"short magic", []byte("\x93NUM"), "header truncated"},
		{"wrong short magic", []byte("abc"), "bad magic"},
		{"bad version", append(append([]byte(magic), 4, 0), good[8:]...), "unsupported format version 4.0"},
		{"truncated length", good[:9], "header truncated"},
		{"truncated header", good[:40], "header truncated: header length is 118 bytes, file has 30"},
		{"header too long", func() []byte {
			b := append([]byte(magic), 2, 0)
			return binary.LittleEndian.AppendUint32(b, 1<<31)
		}(), "exceeds the limit"},
		{"truncated data", good[:len(good)-5], "npy: data truncated: header promises 4 float64 values (32 bytes), file has 27 bytes"},
		{"no data", good[:128], "data truncated: header promises 4 float64 values (32 bytes), file has 0 bytes"},
		{"trailing garbage", append(slices.Clip(good), "junk"...), "trailing garbage: 4 bytes after the 4 float64 values"},
		{"big endian", hdr("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }"), "big-endian dtype \">f8\""},
		{"pipe multibyte", hdr("{'descr': '|f8', 'fortran_order': False, 'shape': (2,), }"), "no byte order"},
		{"fortran", hdr("{'descr': '<f8', 'fortran_order': True, 'shape': (1, 2), }"), "fortran_order True not supported"},
		{"object", hdr("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"), "object dtype \"|O\""},
		{"unicode", hdr("{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }"), "string dtype \"<U5\""},
		{"bytes", hdr("{'descr': '|S3', 'fortran_order': False, 'shape': (2,), }"), "string dtype"},
		{"complex", hdr("{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }"), "complex dtype"},
		{"float16", hdr("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }"), "unsupported dtype \"<f2\""},
		{"structured", hdr("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }"), "structured dtype"},
		{"missing shape", hdr("{'descr': '<f8', 'fortran_order': False, }"), "lacks key 'shape'"},
		{"missing descr", hdr("{'fortran_order': False, 'shape': (2,), }"), "lacks key 'descr'"},
		{"extra key", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}"), "unexpected key \"x\""},
		{"duplicate key", hdr("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}"), "duplicate key"},
		{"negative dim", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }"), "'shape' entry 0 is -2"},
		{"shape list", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': [2], }"), "'shape' is a list"},
		{"float dim", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2.0,), }"), "malformed header"},
		{"fortran not bool", hdr("{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }"), "'fortran_order' is 0"},
		{"not a dict", hdr("('<f8', False, (2,))"), "not a dict"},
		{"unterminated", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2,"), "header ends before closing"},
		{"code", hdr("{'descr': __import__('os'), 'fortran_order': False, 'shape': (2,)}"), "unexpected name \"__import__\""},
		{"after dict", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x"), "after the dict"},
		{"huge shape", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"), "too large"},
		{"huge but absent", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"), "header promises 1000000000000 float64 values (8000000000000 bytes), file has 16 bytes"},
		{"deep", hdr("{'descr': " + strings.Repeat("(", 100) + "}"), "nested too deeply"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Read(bytes.NewReader(c.file))
			if err == nil {
				t.Fatal("want error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "npy: ") {
				t.Errorf("error %q lacks the npy: prefix", err)
			}
		})
	}
}

func TestWritePanicsOnShapeMismatch(t *testing.T) {
	for _, c := range []struct {
		shape []int
		n     int
	}{{[]int{2, 3}, 5}, {[]int{}, 0}, {[]int{-1, -2}, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("shape %v with %d values: no panic", c.shape, c.n)
				}
			}()
			Write(&bytes.Buffer{}, c.shape, make([]float64, c.n))
		}()
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("WriteBool shape %v with %d values: no panic", c.shape, c.n)
				}
			}()
			WriteBool(&bytes.Buffer{}, c.shape, make([]bool, c.n))
		}()
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npy")
	if err := WriteFile(p, []int{2}, []float64{3, 4}); err != nil {
		t.Fatal(err)
	}
	shape, data, err := ReadFile(p)
	if err != nil || !slices.Equal(shape, []int{2}) || !slices.Equal(data, []float64{3, 4}) {
		t.Fatalf("got %v %v %v", shape, data, err)
	}
	pb := filepath.Join(dir, "b.npy")
	if err := WriteBoolFile(pb, []int{1, 2}, []bool{true, false}); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ReadFile(pb); err != nil || !slices.Equal(data, []float64{1, 0}) {
		t.Fatalf("got %v %v", data, err)
	}
	// Errors name the path.
	os.WriteFile(p, []byte("not npy at all"), 0o644)
	if _, _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "bad magic") {
		t.Fatalf("error %v should name %s and the problem", err, p)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "missing.npy")); err == nil || !strings.Contains(err.Error(), "missing.npy") {
		t.Fatalf("error %v should name the missing file", err)
	}
}

// numpyPython is the interpreter used to cross-check against numpy itself.
func numpyPython(t *testing.T) string {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		msg := fmt.Sprintf("numpy cross-check: %s -c 'import numpy' failed: %v (Debian: apt-get install python3-numpy)", py, err)
		if os.Getenv("MHA_NUMPY_REQUIRED") != "" {
			t.Fatal(msg) // scripts/test.sh installs numpy and sets this
		}
		t.Skip(msg + "; skipped")
	}
	return py
}

func TestNumpyReadsOurFiles(t *testing.T) {
	py := numpyPython(t)
	dir := t.TempDir()
	f := filepath.Join(dir, "f.npy")
	b := filepath.Join(dir, "b.npy")
	if err := WriteFile(f, []int{2, 3}, []float64{1, -2.5, 3, 4, 5, 1e-300}); err != nil {
		t.Fatal(err)
	}
	if err := WriteBoolFile(b, []int{3}, []bool{true, false, true}); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, numpy as np
f = np.load(sys.argv[1]); b = np.load(sys.argv[2])
assert f.dtype == np.float64 and f.shape == (2, 3) and f.flags.c_contiguous, (f.dtype, f.shape)
assert (f == np.array([[1, -2.5, 3], [4, 5, 1e-300]])).all(), f
assert b.dtype == np.bool_ and b.tolist() == [True, False, True], b
print("ok")
`
	out, err := exec.Command(py, "-c", script, f, b).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("numpy could not read our files: %v\n%s", err, out)
	}
}

func TestWeReadNumpyFiles(t *testing.T) {
	py := numpyPython(t)
	dir := t.TempDir()
	script := `
import sys, os, numpy as np
d = sys.argv[1]
a = np.arange(24).reshape(2, 3, 4)
for dt in ['<f8', '<f4', '<i8', '<i4', '|u1', '|b1', '<i2', '<u8']:
    np.save(os.path.join(d, dt[1:] + '.npy'), (a % 2 if dt == '|b1' else a).astype(dt))
np.save(os.path.join(d, 'scalar.npy'), np.float64(2.5))
np.save(os.path.join(d, 'fortran.npy'), np.asfortranarray(a.astype('<f8')))
np.save(os.path.join(d, 'big.npy'), a.astype('>f8'))
np.save(os.path.join(d, 'obj.npy'), np.array([1, 'x'], dtype=object), allow_pickle=True)
np.save(os.path.join(d, 'str.npy'), np.array(['a', 'bc']))
np.lib.format.write_array(open(os.path.join(d, 'v2.npy'), 'wb'), a.astype('<f8'), version=(2, 0))
np.lib.format.write_array(open(os.path.join(d, 'v3.npy'), 'wb'), a.astype('<f8'), version=(3, 0))
`
	if out, err := exec.Command(py, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("numpy failed: %v\n%s", err, out)
	}
	want := make([]float64, 24)
	for i := range want {
		want[i] = float64(i)
	}
	for _, name := range []string{"f8", "f4", "i8", "i4", "u1", "i2", "u8", "v2", "v3"} {
		shape, data, err := ReadFile(filepath.Join(dir, name+".npy"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !slices.Equal(shape, []int{2, 3, 4}) || !slices.Equal(data, want) {
			t.Errorf("%s: got %v %v", name, shape, data)
		}
	}
	if _, data, err := ReadFile(filepath.Join(dir, "b1.npy")); err != nil || data[0] != 0 || data[1] != 1 {
		t.Errorf("b1: %v %v", data, err)
	}
	if shape, data, err := ReadFile(filepath.Join(dir, "scalar.npy")); err != nil || len(shape) != 0 || !slices.Equal(data, []float64{2.5}) {
		t.Errorf("scalar: %v %v %v", shape, data, err)
	}
	for name, want := range map[string]string{
		"fortran": "fortran_order True",
		"big":     "big-endian",
		"obj":     "object dtype",
		"str":     "string dtype",
	} {
		if _, _, err := ReadFile(filepath.Join(dir, name+".npy")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(encode(f, []int{2, 2}, []float64{1, 2, 3, 4}))
	f.Add(encode(f, []int{}, []float64{1}))
	f.Add(raw("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", []byte{1, 0, 1}))
	f.Add(raw("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }", []byte{1, 0, 0, 0}))
	f.Add(raw("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", nil))
	var v2 bytes.Buffer
	writeRaw(&v2, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", []byte{0, 0, 128, 63})
	f.Add(v2.Bytes())
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, data, err := Read(bytes.NewReader(b))
		if err != nil {
			if shape != nil || data != nil {
				t.Fatal("non-nil results with an error")
			}
			return
		}
		n := 1
		for _, s := range shape {
			n *= s
		}
		if n != len(data) {
			t.Fatalf("shape %v but %d values", shape, len(data))
		}
	})
}
