// Package logs stores and reads back a container's stdout and stderr: the log
// drivers json-file, local and none.
//
// # Model
//
// The container's shim owns a Writer (OpenWriter) and feeds it messages —
// (stream, line, time) — either already cut into lines (EntryWriter: WriteLog
// per entry, Flush per read) or through a LineWriter per stream that cuts the
// pipe's bytes into lines as Docker's copier does. berthd opens Readers
// (NewReader) for `docker logs`, in another process, as many as it likes. They
// meet only in the files:
//
//	<container dir>/<id>-json.log          json-file, current file
//	<container dir>/<id>-json.log.1        rotated: newest first ...
//	<container dir>/<id>-json.log.2.gz     ... compressed if compress=true
//	<container dir>/local-logs/container.log[.N[.gz]]   local
//
// A line ends in "\n" when complete; a message without it is partial and the next
// one of its stream continues it (a line longer than MaxLineSize, 16 KiB, is
// stored in pieces). json-file records this as Docker does (the "log" string
// lacks the "\n"), local in a flag.
//
// # Formats
//
// json-file is Docker's byte for byte (see jsonCodec): one object per line,
// {"log":"...","stream":"stdout","attrs":{...},"time":"<RFC 3339 nano, UTC>"},
// escaped by Docker's jsonlog rules. local is berth's own compact framing (see
// localCodec): a small header with the attributes, then entries framed by their
// length before and after (uvarint / reversed uvarint), so readers walk back from
// the end. Compressed rotated files are gzip with Docker's {"lastTime": ...} in
// the gzip header's Extra field.
//
// # Bounds (defaults)
//
//	json-file  max-size 20 MiB, max-file 5, compress true when none of the three is given
//	           (Docker: unbounded, moby#40207); with max-size given, Docker's max-file
//	           default of 1; with any given, Docker's compress default of false
//	local      max-size 20 MiB, max-file 5, compress true (Docker's local defaults)
//
// A file rotates once it holds max-size bytes (checked before each write, so it
// may exceed it by one batch).
//
// # Concurrency
//
// One writer (enforced by a lock), any number of readers, in any processes.
// The writer appends whole entries with one write(2) on an O_APPEND file. A
// reader may still observe a write half done (the kernel publishes a write that
// spans pages page by page), so readers only ever return whole entries: json-file
// lines are recognised by their '\n' (never raw inside an entry); for local the
// reader takes the writer's commit lock to learn a boundary-aligned size.
// Rotation is rename based (see fileWriter): the current name always names a file,
// and a reader holding a rotated file reads it to its end and moves to the next.
// Followers learn of writes through inotify on the directory (polling when no
// inotify instance is left) and that the writer is gone for good from its live
// lock (an OFD lock, released by the kernel even if the shim is killed).
//
// # Durability
//
// Appends are not fsynced: after a host crash the last seconds of output may be
// lost, as with Docker, and the writer pays no sync per line. What a crash of the
// writer can leave is repaired when a writer opens the log again: a torn last
// entry is cut off, and a rotation stopped between its link and its rename is
// completed. A compressed file is fsynced before it is renamed into place and its
// uncompressed original removed, so a crash never leaves an empty .gz as the only
// copy. Renames are not followed by a directory fsync: after a power cut part of
// a rotation may be undone, which leaves one of the states a rotation passes
// through — readers accept them all and the next writer completes it.
//
// The package is Linux only (OFD locks, inotify). Attributes for the log
// options labels, env and tag are computed by package logattrs.
package logs
