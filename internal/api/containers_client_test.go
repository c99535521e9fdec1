package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestMobyClientUnderstandsTheStreams drives the routes with moby's own
// client: the wait it sends before a start, attach's and exec's hijacked
// streams demultiplexed by stdcopy.
func TestMobyClientUnderstandsTheStreams(t *testing.T) {
	_, f, sock := serveContainers(t)
	cli, err := client.New(client.WithHost("unix://"+sock), client.WithAPIVersion(APIVersion))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()

	// ContainerWait returns once the wait is in place (the head arrived).
	wait := cli.ContainerWait(ctx, "web", client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if call := f.lastCall(); call != "wait web next-exit" {
		t.Fatalf("wait call %q", call)
	}
	f.waitC <- container.WaitResponse{StatusCode: 7}
	select {
	case res := <-wait.Result:
		if res.StatusCode != 7 || res.Error != nil {
			t.Fatalf("wait result %+v", res)
		}
	case err := <-wait.Error:
		t.Fatalf("wait: %v", err)
	}

	att, err := cli.ContainerAttach(ctx, "web", client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	if mt, ok := att.MediaType(); !ok || mt != "application/vnd.docker.multiplexed-stream" {
		t.Errorf("attach media type %q", mt)
	}
	if _, err := io.WriteString(att.Conn, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	if err := att.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "out:one\nout:two\nbye\n" || stderr.String() != "err:one\nerr:two\n" {
		t.Fatalf("attach stdout %q stderr %q", stdout.String(), stderr.String())
	}

	ex, err := cli.ExecAttach(ctx, "e1", client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	io.WriteString(ex.Conn, "x\n")
	ex.CloseWrite()
	stdout.Reset()
	stderr.Reset()
	if _, err := stdcopy.StdCopy(&stdout, &stderr, ex.Reader); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if stdout.String() != "out:x\nbye\n" || stderr.String() != "err:x\n" {
		t.Fatalf("exec stdout %q stderr %q", stdout.String(), stderr.String())
	}
}
