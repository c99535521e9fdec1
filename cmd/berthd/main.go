// Command berthd is berth's daemon, serving the Docker Engine API. It is built in
// issue 3; until then it refuses to start rather than pretend to serve.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "berthd: the daemon is not built yet; run containers from a bundle with berth-runtime (see README)")
	os.Exit(1)
}
