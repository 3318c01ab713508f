package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/mhattn/mha/internal/atomicfile"
)

const (
	magic = "\x93NUMPY"
	// align is the boundary numpy pads the header to, so data can be mapped.
	align = 64
	// maxHeaderLen bounds the header we are willing to read. numpy's own
	// reader refuses headers over 10000 bytes by default; this is more
	// generous but keeps a corrupt length field from costing gigabytes.
	maxHeaderLen = 1 << 20
	// chunk is how many bytes are converted at a time while reading.
	chunk = 1 << 16
)

// Header is the parsed header of a .npy file.
type Header struct {
	Dtype        string // numpy's descr as written in the file, e.g. "<f8"
	Shape        []int  // () for a scalar, which holds one value
	FortranOrder bool
}

// dtype describes how to turn one stored element into a float64.
type dtype struct {
	name  string // numpy's name, used in messages: float64, int32, bool, ...
	size  int    // bytes per element
	order binary.ByteOrder
	kind  byte // 'f', 'i', 'u' or 'b'
}

// Write writes data with the given shape to w as a version 1.0 .npy file
// with dtype '<f8'. It panics if the shape has a negative dimension or its
// product is not len(data).
func Write(w io.Writer, shape []int, data []float64) error {
	checkShape(shape, len(data))
	if err := writeHeader(w, "<f8", shape); err != nil {
		return err
	}
	buf := make([]byte, 0, chunk)
	for i, v := range data {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		if len(buf) == cap(buf) || i == len(data)-1 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("npy: writing data: %w", err)
			}
			buf = buf[:0]
		}
	}
	return nil
}

// WriteBool writes data with the given shape to w as a version 1.0 .npy file
// with dtype '|b1' (one byte per value, 0 or 1). It panics if the shape has
// a negative dimension or its product is not len(data).
func WriteBool(w io.Writer, shape []int, data []bool) error {
	checkShape(shape, len(data))
	if err := writeHeader(w, "|b1", shape); err != nil {
		return err
	}
	buf := make([]byte, len(data))
	for i, v := range data {
		if v {
			buf[i] = 1
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("npy: writing data: %w", err)
	}
	return nil
}

// WriteFile writes data as a '<f8' .npy file at path, atomically: on error
// any previous file at path is left as it was.
func WriteFile(path string, shape []int, data []float64) error {
	checkShape(shape, len(data))
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, shape, data) })
}

// WriteBoolFile writes data as a '|b1' .npy file at path, atomically.
func WriteBoolFile(path string, shape []int, data []bool) error {
	checkShape(shape, len(data))
	return atomicfile.Write(path, func(w io.Writer) error { return WriteBool(w, shape, data) })
}

func checkShape(shape []int, n int) {
	p := 1
	for _, s := range shape {
		if s < 0 {
			panic(fmt.Sprintf("npy: negative dimension in shape %v", shape))
		}
		p *= s
	}
	if p != n {
		panic(fmt.Sprintf("npy: shape %v holds %d values but data has %d", shape, p, n))
	}
}

// shapeString formats a shape as a Python tuple, as numpy does.
func shapeString(shape []int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, s := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(s))
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

func writeHeader(w io.Writer, descr string, shape []int) error {
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shapeString(shape))
	// Version 1.0 stores the header length in 2 bytes; fall back to 2.0
	// (4 bytes) only when that is too small, as numpy does.
	prefix := 10
	major := byte(1)
	total := prefix + len(dict) + 1
	total += (align - total%align) % align
	if total-prefix > math.MaxUint16 {
		major, prefix = 2, 12
		total = prefix + len(dict) + 1
		total += (align - total%align) % align
	}
	hlen := total - prefix
	out := make([]byte, 0, total)
	out = append(out, magic...)
	out = append(out, major, 0)
	if major == 1 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen))
	}
	out = append(out, dict...)
	for len(out) < total-1 {
		out = append(out, ' ')
	}
	out = append(out, '\n')
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("npy: writing header: %w", err)
	}
	return nil
}

// ReadHeader reads the magic string, version and header from r and leaves r
// positioned at the first data byte. It checks that the header is well formed
// but not that its dtype is one Read supports.
func ReadHeader(r io.Reader) (Header, error) {
	var pre [8]byte
	n, err := io.ReadFull(r, pre[:])
	if err != nil {
		if n == 0 && err == io.EOF {
			return Header{}, errors.New("npy: empty input: not a .npy file")
		}
		if string(pre[:min(n, 6)]) != magic[:min(n, 6)] {
			return Header{}, fmt.Errorf("npy: bad magic %q: not a .npy file (want %q)", pre[:n], magic)
		}
		return Header{}, fmt.Errorf("npy: header truncated: file ends after %d bytes, inside the 10-byte preamble", n)
	}
	if string(pre[:6]) != magic {
		return Header{}, fmt.Errorf("npy: bad magic %q: not a .npy file (want %q)", pre[:6], magic)
	}
	major, minor := pre[6], pre[7]
	var hlen int
	switch {
	case major == 1 && minor == 0:
		var l [2]byte
		if n, err := io.ReadFull(r, l[:]); err != nil {
			return Header{}, fmt.Errorf("npy: header truncated: file ends %d bytes into the 2-byte header length", n)
		}
		hlen = int(binary.LittleEndian.Uint16(l[:]))
	case (major == 2 || major == 3) && minor == 0:
		var l [4]byte
		if n, err := io.ReadFull(r, l[:]); err != nil {
			return Header{}, fmt.Errorf("npy: header truncated: file ends %d bytes into the 4-byte header length", n)
		}
		hlen = int(binary.LittleEndian.Uint32(l[:]))
	default:
		return Header{}, fmt.Errorf("npy: unsupported format version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	if hlen > maxHeaderLen {
		return Header{}, fmt.Errorf("npy: header length %d exceeds the limit of %d bytes: file is corrupt", hlen, maxHeaderLen)
	}
	hb := make([]byte, hlen)
	if n, err := io.ReadFull(r, hb); err != nil {
		return Header{}, fmt.Errorf("npy: header truncated: header length is %d bytes, file has %d", hlen, n)
	}
	return parseHeader(string(hb))
}

func parseHeader(s string) (Header, error) {
	p := &parser{s: s}
	v, err := p.value(0)
	if err == nil {
		p.skipSpace()
		if p.i < len(p.s) {
			err = p.errorf("unexpected %q after the dict", p.rest())
		}
	}
	if err != nil {
		return Header{}, fmt.Errorf("npy: malformed header %q: %w", abbreviate(s), err)
	}
	d, ok := v.(dict)
	if !ok {
		return Header{}, fmt.Errorf("npy: malformed header %q: not a dict", abbreviate(s))
	}
	var h Header
	var seen [3]bool
	for _, kv := range d {
		switch kv.key {
		case "descr":
			seen[0] = true
			switch x := kv.val.(type) {
			case string:
				h.Dtype = x
			case list:
				return Header{}, fmt.Errorf("npy: structured dtype %s not supported: save a plain numeric array", abbreviate(s))
			default:
				return Header{}, fmt.Errorf("npy: header 'descr' is %s, want a dtype string", describe(kv.val))
			}
		case "fortran_order":
			seen[1] = true
			b, ok := kv.val.(bool)
			if !ok {
				return Header{}, fmt.Errorf("npy: header 'fortran_order' is %s, want True or False", describe(kv.val))
			}
			h.FortranOrder = b
		case "shape":
			seen[2] = true
			t, ok := kv.val.(tuple)
			if !ok {
				return Header{}, fmt.Errorf("npy: header 'shape' is %s, want a tuple of integers", describe(kv.val))
			}
			h.Shape = make([]int, len(t))
			for i, e := range t {
				k, ok := e.(int64)
				if !ok || k < 0 || k > math.MaxInt {
					return Header{}, fmt.Errorf("npy: header 'shape' entry %d is %s, want a non-negative integer", i, describe(e))
				}
				h.Shape[i] = int(k)
			}
		default:
			return Header{}, fmt.Errorf("npy: header has unexpected key %q (want only 'descr', 'fortran_order', 'shape')", kv.key)
		}
	}
	for i, name := range []string{"descr", "fortran_order", "shape"} {
		if !seen[i] {
			return Header{}, fmt.Errorf("npy: header lacks key '%s'", name)
		}
	}
	return h, nil
}

func abbreviate(s string) string {
	s = strings.TrimRight(s, " \n")
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// parseDtype maps a numpy descr to a conversion, or explains why not.
func parseDtype(descr string) (dtype, error) {
	if len(descr) < 2 {
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	bo, rest := descr[0], descr[1:]
	if !strings.ContainsRune("<>=|", rune(bo)) {
		// numpy always writes a byte-order character; tolerate its absence.
		bo, rest = '|', descr
	}
	if rest == "" {
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q", descr)
	}
	kind := rest[0]
	size, err := strconv.Atoi(rest[1:])
	supported := "float64, float32, int8/16/32/64, uint8/16/32/64 or bool"
	switch kind {
	case 'O':
		return dtype{}, fmt.Errorf("npy: object dtype %q not supported (it needs Python pickle): save a numeric array, e.g. arr.astype('<f8')", descr)
	case 'U', 'S', 'a':
		return dtype{}, fmt.Errorf("npy: string dtype %q not supported: want %s", descr, supported)
	case 'c':
		return dtype{}, fmt.Errorf("npy: complex dtype %q not supported: want %s", descr, supported)
	case 'V':
		return dtype{}, fmt.Errorf("npy: void/structured dtype %q not supported: want %s", descr, supported)
	case 'M', 'm':
		return dtype{}, fmt.Errorf("npy: datetime dtype %q not supported: want %s", descr, supported)
	}
	if err != nil {
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q: want %s", descr, supported)
	}
	var name string
	switch {
	case kind == 'f' && (size == 4 || size == 8):
		name = "float" + strconv.Itoa(8*size)
	case kind == 'i' && (size == 1 || size == 2 || size == 4 || size == 8):
		name = "int" + strconv.Itoa(8*size)
	case kind == 'u' && (size == 1 || size == 2 || size == 4 || size == 8):
		name = "uint" + strconv.Itoa(8*size)
	case kind == 'b' && size == 1:
		name = "bool"
	default:
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q: want %s", descr, supported)
	}
	dt := dtype{name: name, size: size, kind: kind}
	switch {
	case size == 1:
		// byte order is meaningless for single bytes
	case bo == '<':
		dt.order = binary.LittleEndian
	case bo == '=':
		dt.order = binary.NativeEndian
	case bo == '>':
		return dtype{}, fmt.Errorf("npy: big-endian dtype %q not supported: convert with arr.astype('<%c%d')", descr, kind, size)
	default:
		return dtype{}, fmt.Errorf("npy: dtype %q has no byte order but its items are %d bytes wide", descr, size)
	}
	return dt, nil
}

// Read reads a whole .npy file from r and returns its shape and its values
// converted to float64 in C order. It fails if anything follows the data.
func Read(r io.Reader) (shape []int, data []float64, err error) {
	return read(r, -1)
}

// ReadFile reads the .npy file at path; errors name the path.
func ReadFile(path string) ([]int, []float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	hint := int64(-1)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		hint = fi.Size()
	}
	shape, data, err := read(bufio.NewReaderSize(f, chunk), hint)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return shape, data, nil
}

// read is Read with an optional hint of the total input size, used only to
// size the output slice up front.
func read(r io.Reader, sizeHint int64) ([]int, []float64, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, nil, err
	}
	dt, err := parseDtype(h.Dtype)
	if err != nil {
		return nil, nil, err
	}
	if h.FortranOrder && len(h.Shape) > 1 {
		return nil, nil, fmt.Errorf("npy: fortran_order True not supported: save with np.ascontiguousarray(arr)")
	}
	count := int64(1)
	for _, s := range h.Shape {
		if s != 0 && count > math.MaxInt64/int64(dt.size)/int64(s) {
			return nil, nil, fmt.Errorf("npy: shape %s is too large", shapeString(h.Shape))
		}
		count *= int64(s)
	}
	want := count * int64(dt.size)

	// Grow the output as bytes arrive rather than trusting the header, so a
	// corrupt shape cannot make us allocate more than the input holds.
	capHint := min(count, 1<<20)
	if sizeHint >= 0 && sizeHint/int64(dt.size) >= count {
		capHint = count
	}
	data := make([]float64, 0, capHint)
	buf := make([]byte, chunk-chunk%8)
	var got int64
	for got < want {
		m := int(min(int64(len(buf)), want-got))
		n, err := io.ReadFull(r, buf[:m])
		got += int64(n)
		data = decode(data, buf[:n-n%dt.size], dt)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, nil, fmt.Errorf("npy: data truncated: header promises %d %s values (%d bytes), file has %d bytes", count, dt.name, want, got)
			}
			return nil, nil, fmt.Errorf("npy: reading data: %w", err)
		}
	}
	// Trailing bytes mean the header and the data disagree: refuse rather
	// than guess which one is right.
	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: reading data: %w", err)
	}
	if extra > 0 {
		return nil, nil, fmt.Errorf("npy: trailing garbage: %d bytes after the %d %s values (%d bytes) the header promises", extra, count, dt.name, want)
	}
	shape := h.Shape
	if shape == nil {
		shape = []int{}
	}
	return shape, data, nil
}

func decode(dst []float64, b []byte, dt dtype) []float64 {
	switch dt.kind {
	case 'b':
		for _, c := range b {
			if c != 0 {
				dst = append(dst, 1)
			} else {
				dst = append(dst, 0)
			}
		}
	case 'u':
		switch dt.size {
		case 1:
			for _, c := range b {
				dst = append(dst, float64(c))
			}
		case 2:
			for i := 0; i < len(b); i += 2 {
				dst = append(dst, float64(dt.order.Uint16(b[i:])))
			}
		case 4:
			for i := 0; i < len(b); i += 4 {
				dst = append(dst, float64(dt.order.Uint32(b[i:])))
			}
		case 8:
			for i := 0; i < len(b); i += 8 {
				dst = append(dst, float64(dt.order.Uint64(b[i:])))
			}
		}
	case 'i':
		switch dt.size {
		case 1:
			for _, c := range b {
				dst = append(dst, float64(int8(c)))
			}
		case 2:
			for i := 0; i < len(b); i += 2 {
				dst = append(dst, float64(int16(dt.order.Uint16(b[i:]))))
			}
		case 4:
			for i := 0; i < len(b); i += 4 {
				dst = append(dst, float64(int32(dt.order.Uint32(b[i:]))))
			}
		case 8:
			for i := 0; i < len(b); i += 8 {
				dst = append(dst, float64(int64(dt.order.Uint64(b[i:]))))
			}
		}
	case 'f':
		if dt.size == 4 {
			for i := 0; i < len(b); i += 4 {
				dst = append(dst, float64(math.Float32frombits(dt.order.Uint32(b[i:]))))
			}
		} else {
			for i := 0; i < len(b); i += 8 {
				dst = append(dst, math.Float64frombits(dt.order.Uint64(b[i:])))
			}
		}
	}
	return dst
}
