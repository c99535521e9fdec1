// Placeholders for the container operations not written yet (issue 4 in progress).
package daemon

import (
	"context"
	"io"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/moby/moby/api/types/container"
)

// The container routes still to come answer 501 with this.
var errTODO = cerrdefs.ErrNotImplemented.WithMessage("not implemented in berth yet")

func (d *Daemon) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, *container.PathStat, error) {
	return nil, nil, errTODO
}
func (d *Daemon) ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error) {
	return nil, errTODO
}
func (d *Daemon) ContainerExtractToDir(ctx context.Context, name string, opts ArchivePutOptions, r io.Reader) error {
	return errTODO
}
func (d *Daemon) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	return nil, errTODO
}
func (d *Daemon) ContainerExport(ctx context.Context, name string, w io.Writer) error { return errTODO }
func (d *Daemon) ContainerCommit(ctx context.Context, opts CommitOptions) (string, error) {
	return "", errTODO
}
