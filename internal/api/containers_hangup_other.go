//go:build !linux

package api

import "net"

// watchHangup is not implemented off Linux: a stream learns that its client
// left when a write fails or its stdin ends.
func watchHangup(conn net.Conn, onHangup func()) (stop func()) { return func() {} }
