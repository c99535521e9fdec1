// Command berth is berth's command-line client. The Engine API client arrives with
// the daemon (issue 3); today it reports its version and points at berth-runtime.
package main

import (
	"fmt"
	"os"
)

const version = "0.1.0-dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "--version") {
		fmt.Printf("berth version %s\n", version)
		return
	}
	fmt.Fprintln(os.Stderr, "berth: the engine client is not built yet; run containers from a bundle with berth-runtime (see README)")
	os.Exit(1)
}
