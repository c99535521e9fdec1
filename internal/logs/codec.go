package logs

import "time"

// A codec is one on-disk entry format. Entries are appended whole; every codec can
// find the entry that ends at a known boundary (so a tail reads backwards) and
// decode entries forwards.
type codec interface {
	// encoder returns the header that starts every new file (may be nil) and the
	// function appending one entry. attrs are recorded with every entry.
	encoder(attrs map[string]string) (header []byte, enc entryEncoder, err error)

	// readHeader parses the header at the start of a file from b, its first bytes.
	// n is the header length, or -1 if b is too short to tell (eof: b is all there is).
	readHeader(b []byte, eof bool) (n int, attrs map[string]string, err error)

	// next decodes the first entry of b into m (m.Attrs is set to attrs unless the
	// entry carries its own). n is the entry's length, or 0 if b does not yet hold
	// a whole entry.
	next(b []byte, attrs map[string]string, m *Message) (n int, err error)

	// lastLen returns the length of the entry that ends b (b ends at an entry
	// boundary). The result may exceed len(b): load that many bytes and ask again.
	// -1 means more bytes are needed before b to tell. atStart says b begins at the
	// first entry of the file.
	lastLen(b []byte, atStart bool) (n int, err error)

	// lastBoundary returns the length of the longest prefix of b that ends at an
	// entry boundary, when the end of the file may not (-1: more bytes needed).
	// Codecs whose ends are trusted (trustedEnd) return len(b).
	lastBoundary(b []byte, atStart bool) int

	// selfSyncing reports that an entry boundary can be recognised from the bytes
	// alone (json-file's raw '\n' never occurs inside an entry). Otherwise readers
	// take the writer's commit lock to learn a boundary-aligned end of the current
	// file, since a reader may see part of a write that spans pages.
	selfSyncing() bool
}

// entryEncoder appends one entry: line is the content without the newline, partial
// says whether the line continues in the next entry.
type entryEncoder func(dst []byte, stream string, line []byte, partial bool, t time.Time) ([]byte, error)

func codecFor(driver string) (codec, error) {
	switch driver {
	case JSONFile:
		return jsonCodec{}, nil
	case Local:
		return localCodec{}, nil
	case None:
		return nil, ErrReadNotSupported
	}
	return nil, invalid("logger: no log driver named '%s' is registered", driver)
}
