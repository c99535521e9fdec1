//go:build !linux

package api

import (
	"net"
	"time"
)

// watchHangup is not implemented off Linux: a stream learns that its client
// left when a write fails or its stdin ends.
func watchHangup(conn net.Conn, onHangup func()) (stop func()) { return func() {} }

// awaitHeadRead does not wait off Linux (see the Linux one).
func awaitHeadRead(conn net.Conn, max time.Duration) {}
