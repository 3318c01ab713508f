// Package npy reads and writes NumPy's .npy array files, so that data and
// parameters move between this module and Python without conversion scripts.
//
// # Format
//
// A .npy file is the magic string "\x93NUMPY", a two-byte version (1.0, 2.0 or
// 3.0), the length of a header (uint16 little-endian in 1.0, uint32 in 2.0 and
// 3.0), the header itself, and the raw array bytes. The header is a Python dict
// literal such as
//
//	{'descr': '<f8', 'fortran_order': False, 'shape': (256, 8, 16), }
//
// padded with spaces and ended by '\n' so that the data starts at a multiple
// of 64 bytes. Data is in C (row-major) order: the last index varies fastest,
// so element (i, t, k) of a (n, T, d) array is data[(i*T+t)*d+k].
//
// # What is supported
//
// Writers produce version 1.0 (2.0 only when a header would not fit in 64 KiB)
// with dtype '<f8' (Write) or '|b1' (WriteBool), exactly as numpy.save does, so
// numpy.load reads them unchanged.
//
// Readers accept versions 1.0, 2.0 and 3.0 and the numeric dtypes float64,
// float32, int8..int64, uint8..uint64 and bool, little-endian or
// single-byte, converting every value to float64 (bool to 0 or 1; integers
// beyond 2^53 lose precision). Everything else is rejected with an error that
// says what was found and what to do: big-endian data, Fortran order, object,
// string, complex and structured dtypes, bad magic, truncated header or data,
// and bytes after the data. Readers never panic on malformed input, and they
// allocate in proportion to the bytes actually present, not to the size a
// header claims.
//
// Writers panic when len(data) disagrees with the shape: that is a
// programmer error. The *File functions write through internal/atomicfile, so
// an interrupted save never leaves a half-written file behind.
package npy
