// Command berthd is berth's daemon: it serves the Docker Engine API on unix
// sockets, in the foreground, until SIGTERM or SIGINT. See docs/DAEMON.md.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
