package shim

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCopyDetaching(t *testing.T) {
	keys := []byte{0x10, 0x11}
	for _, tc := range []struct {
		in, out  string
		keys     []byte
		detached bool
	}{
		{"hello", "hello", keys, false},
		{"ab\x10\x11cd", "ab", keys, true},
		{"a\x10b\x10\x10\x11z", "a\x10b\x10", keys, true},
		{"end\x10", "end\x10", nil, false},
		{"\x10\x11", "\x10\x11", nil, false},
	} {
		var out bytes.Buffer
		write := func(b []byte) error { out.Write(b); return nil }
		// One byte per read, so that a key sequence spans reads.
		detached, err := copyDetaching(write, iotest.OneByteReader(strings.NewReader(tc.in)), tc.keys)
		if err != nil || detached != tc.detached || out.String() != tc.out {
			t.Errorf("copyDetaching(%q) = %q, detached %v, %v; want %q, detached %v", tc.in, out.String(), detached, err, tc.out, tc.detached)
		}
	}
	// Held-back bytes of an unfinished sequence are dropped at end of input, as a
	// terminal user's half-typed escape would be.
	var out bytes.Buffer
	copyDetaching(func(b []byte) error { out.Write(b); return nil }, io.MultiReader(strings.NewReader("x\x10")), keys)
	if out.String() != "x" {
		t.Errorf("held-back prefix at EOF: got %q", out.String())
	}
}
