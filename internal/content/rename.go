package content

import "os"

// linkAndRemove moves from to to without replacing an existing to: link(2)
// creates the new name atomically or fails with EEXIST.
func linkAndRemove(from, to string) error {
	if err := os.Link(from, to); err != nil {
		return err
	}
	return os.Remove(from)
}
