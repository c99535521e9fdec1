package logs

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"
	"time"
)

// localCodec is berth's "local" format: a header, then entries that can be read
// both ways.
//
//	file   := header entry*
//	header := "BLOG" version:u8(=1) nattrs:uvarint (klen:uvarint k vlen:uvarint v)*   attrs sorted by key
//	entry  := len:uvarint body crc:u32be len':rvarint          len == len' == len(body)
//	body   := flags:u8 time:i64be line
//
// flags bit 0 is the stream (0 stdout, 1 stderr), bit 1 marks a partial line;
// time is Unix nanoseconds; line is the content without its "\n" (a complete line
// gets it back when read); crc is the CRC-32C (Castagnoli) of body. rvarint is the
// uvarint's bytes in reverse order, so the byte just before an entry boundary is
// the length's lowest 7 bits: a reader at a boundary reads the length backwards,
// checks it against the prefix and the body against its CRC, which is how
// `logs --tail` walks from the end without reading the rest of the file. (Without
// the CRC, a line of 122 "x" would pass for an entry of its own: "x" is 120 as a
// uvarint, and a torn last entry could then not be told from a whole one.)
//
// Attributes are the same for every entry of a file (they come from the
// container's log options), so they live once in the header instead of in every
// entry as in Docker's protobuf. A 100-byte line costs 115 bytes on disk.
type localCodec struct{}

const (
	localMagic      = "BLOG"
	localVersion    = 1
	localFlagStderr = 1 << 0
	localFlagPart   = 1 << 1
	localMaxBody    = 1 << 20 // far above MaxLineSize+9: larger lengths are corruption
	localMaxHeader  = 1 << 20
	localCRCSize    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (localCodec) encoder(attrs map[string]string) ([]byte, entryEncoder, error) {
	hdr := append([]byte(localMagic), localVersion)
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hdr = binary.AppendUvarint(hdr, uint64(len(keys)))
	for _, k := range keys {
		hdr = binary.AppendUvarint(hdr, uint64(len(k)))
		hdr = append(hdr, k...)
		hdr = binary.AppendUvarint(hdr, uint64(len(attrs[k])))
		hdr = append(hdr, attrs[k]...)
	}
	if len(hdr) > localMaxHeader {
		return nil, nil, fmt.Errorf("log attrs take %d bytes, more than %d", len(hdr), localMaxHeader)
	}
	return hdr, appendLocalEntry, nil
}

func appendLocalEntry(dst []byte, stream string, line []byte, partial bool, t time.Time) ([]byte, error) {
	var flags byte
	switch stream {
	case Stdout:
	case Stderr:
		flags |= localFlagStderr
	default:
		return dst, fmt.Errorf("log stream %q: local driver stores stdout and stderr only", stream)
	}
	if partial {
		flags |= localFlagPart
	}
	n := uint64(1 + 8 + len(line))
	if n > localMaxBody {
		return dst, fmt.Errorf("log entry of %d bytes: larger than %d", n, localMaxBody)
	}
	dst = binary.AppendUvarint(dst, n)
	body := len(dst)
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(t.UnixNano()))
	dst = append(dst, line...)
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[body:], castagnoli))
	return appendRvarint(dst, n), nil
}

// appendRvarint appends v's uvarint bytes in reverse order.
func appendRvarint(dst []byte, v uint64) []byte {
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], v)
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, tmp[i])
	}
	return dst
}

// rvarint reads a reversed uvarint that ends b. n is its length in bytes, 0 if b
// is too short, -1 if it is malformed.
func rvarint(b []byte) (v uint64, n int) {
	var shift uint
	for i := len(b) - 1; i >= 0; i-- {
		c := b[i]
		if shift >= 63 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, len(b) - i
		}
		shift += 7
		if len(b)-i >= binary.MaxVarintLen64 {
			return 0, -1
		}
	}
	return 0, 0
}

func (localCodec) readHeader(b []byte, eof bool) (int, map[string]string, error) {
	short := func() (int, map[string]string, error) {
		if eof || len(b) >= localMaxHeader {
			return 0, nil, fmt.Errorf("local log header: %w", errCorrupt)
		}
		return -1, nil, nil
	}
	if len(b) < len(localMagic)+1 {
		if len(b) > 0 && len(b) < len(localMagic) && string(b) != localMagic[:len(b)] {
			return 0, nil, fmt.Errorf("not a local log file (no %q header): %w", localMagic, errCorrupt)
		}
		return short()
	}
	if string(b[:4]) != localMagic {
		return 0, nil, fmt.Errorf("not a local log file (no %q header): %w", localMagic, errCorrupt)
	}
	if b[4] != localVersion {
		return 0, nil, fmt.Errorf("local log format version %d: unsupported", b[4])
	}
	i := 5
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b[i:])
		if n <= 0 {
			return 0, false
		}
		i += n
		return v, true
	}
	str := func() (string, bool) {
		l, ok := uv()
		if !ok || l > uint64(len(b)-i) {
			return "", false
		}
		s := string(b[i : i+int(l)])
		i += int(l)
		return s, true
	}
	count, ok := uv()
	if !ok {
		return short()
	}
	if count > localMaxHeader {
		return 0, nil, fmt.Errorf("local log header: %d attrs: %w", count, errCorrupt)
	}
	var attrs map[string]string
	for ; count > 0; count-- {
		k, ok := str()
		if !ok {
			return short()
		}
		v, ok := str()
		if !ok {
			return short()
		}
		if attrs == nil {
			attrs = map[string]string{}
		}
		attrs[k] = v
	}
	return i, attrs, nil
}

func (localCodec) selfSyncing() bool { return false }

func (localCodec) next(b []byte, attrs map[string]string, m *Message) (int, error) {
	l, p := binary.Uvarint(b)
	if p == 0 {
		return 0, nil
	}
	if p < 0 || l < 9 || l > localMaxBody {
		return 0, fmt.Errorf("local log entry length: %w", errCorrupt)
	}
	end := p + int(l)
	s := uvarintLen(l)
	if len(b) < end+localCRCSize+s {
		return 0, nil
	}
	if l2, s2 := rvarint(b[end+localCRCSize : end+localCRCSize+s]); s2 != s || l2 != l {
		return 0, fmt.Errorf("local log entry: length suffix does not match prefix %d: %w", l, errCorrupt)
	}
	if binary.BigEndian.Uint32(b[end:]) != crc32.Checksum(b[p:end], castagnoli) {
		return 0, fmt.Errorf("local log entry: bad checksum: %w", errCorrupt)
	}
	decodeLocalBody(b[p:end], attrs, m)
	return end + localCRCSize + s, nil
}

func decodeLocalBody(body []byte, attrs map[string]string, m *Message) {
	flags := body[0]
	*m = Message{Stream: Stdout, Attrs: attrs}
	if flags&localFlagStderr != 0 {
		m.Stream = Stderr
	}
	m.Time = time.Unix(0, int64(binary.BigEndian.Uint64(body[1:9]))).UTC()
	line := body[9:]
	if flags&localFlagPart != 0 {
		m.Line = append(make([]byte, 0, len(line)), line...)
	} else {
		m.Line = append(append(make([]byte, 0, len(line)+1), line...), '\n')
	}
}

func (localCodec) lastLen(b []byte, atStart bool) (int, error) {
	l, s := rvarint(b)
	if s == 0 {
		if atStart {
			return 0, fmt.Errorf("local log entry: truncated length: %w", errCorrupt)
		}
		return -1, nil
	}
	if s < 0 || l < 9 || l > localMaxBody {
		return 0, fmt.Errorf("local log entry length: %w", errCorrupt)
	}
	total := uvarintLen(l) + int(l) + localCRCSize + s
	if total > len(b) {
		if atStart {
			return 0, fmt.Errorf("local log entry: runs before the start of the file: %w", errCorrupt)
		}
		return total, nil
	}
	e := b[len(b)-total:]
	l2, p := binary.Uvarint(e)
	if p != uvarintLen(l) || l2 != l {
		return 0, fmt.Errorf("local log entry: length prefix does not match suffix: %w", errCorrupt)
	}
	if binary.BigEndian.Uint32(e[p+int(l):]) != crc32.Checksum(e[p:p+int(l)], castagnoli) {
		return 0, fmt.Errorf("local log entry: bad checksum: %w", errCorrupt)
	}
	return total, nil
}

func (localCodec) lastBoundary(b []byte, atStart bool) int { return len(b) }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
