package oci

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// invalid returns an error of class errdefs.ErrInvalidArgument whose text is
// exactly the message given: the text Docker returns for the same mistake, so
// the API can answer 400 with it unchanged.
func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}
