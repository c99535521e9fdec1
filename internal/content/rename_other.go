//go:build unix && !linux

package content

func renameNoReplace(from, to string) error { return linkAndRemove(from, to) }
