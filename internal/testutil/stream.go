package testutil

import (
	"encoding/binary"
	"io"
)

// ReadFrame reads one frame of an attach, exec or logs stream without a
// terminal (Docker's stdcopy framing: an 8-byte header [stream, 0, 0, 0,
// big-endian size] before each chunk) and returns the stream (1 stdout, 2
// stderr) and the chunk.
func ReadFrame(r io.Reader) (stream byte, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, binary.BigEndian.Uint32(h[4:]))
	_, err = io.ReadFull(r, payload)
	return h[0], payload, err
}
