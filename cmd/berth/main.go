// Command berth is berth's command-line client (docker's verbs and flags, see
// internal/cli). The build stamps its version:
// go build -ldflags "-X main.version=... -X main.gitCommit=... -X main.buildTime=...".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-engine/berth/internal/cli"
)

var version, gitCommit, buildTime = "0.1.0-dev", "", ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		Build: cli.BuildInfo{Version: version, GitCommit: gitCommit, BuildTime: buildTime}})
	stop()
	os.Exit(code)
}
