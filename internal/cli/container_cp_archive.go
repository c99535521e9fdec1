package cli

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// `cp` moves tar archives through the archive endpoint. What an archive's
// entries are named decides where they land, with docker's rules:
//
//	source   destination          entries extracted into   as
//	file     existing dir  d/     d                        d/file
//	file     existing file f      dir of f                 f (renamed)
//	file     missing  f           dir of f                 f
//	file     missing  d/          error: no such directory
//	dir      existing dir  d      d                        d/dir/...
//	dir      missing  n           dir of n                 n/... (renamed)
//	dir/.    existing dir  d      d                        d/... (contents)
//	dir      existing file        error: cannot copy directory
//
// The first element of every entry's name is the source's base name ("."
// for dir/.), and renaming rewrites that element.

// copyInfo describes the source or the destination of a copy.
type copyInfo struct {
	Path       string
	Exists     bool
	IsDir      bool
	RebaseName string // the name the source's entries take instead of its base name
}

var (
	errNotDirectory  = errors.New("not a directory")
	errDirNotExists  = errors.New("no such directory")
	errCannotCopyDir = errors.New("cannot copy directory")
)

func hasTrailingSeparator(p string) bool { return len(p) > 0 && os.IsPathSeparator(p[len(p)-1]) }

func specifiesCurrentDir(p string) bool { return filepath.Base(p) == "." }

// assertsDirectory reports whether p says it is a directory (ends in / or /.).
func assertsDirectory(p string) bool { return hasTrailingSeparator(p) || specifiesCurrentDir(p) }

// preserveTrailingDotOrSeparator gives the cleaned path back the trailing
// "/." or "/" the original had.
func preserveTrailingDotOrSeparator(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !hasTrailingSeparator(cleaned) {
			cleaned += string(filepath.Separator)
		}
		cleaned += "."
	}
	if !hasTrailingSeparator(cleaned) && hasTrailingSeparator(original) {
		cleaned += string(filepath.Separator)
	}
	return cleaned
}

// splitPathDirEntry splits p into its directory and base, keeping a
// trailing "." as the base.
func splitPathDirEntry(p string) (dir, base string) {
	cleaned := filepath.Clean(filepath.FromSlash(p))
	if specifiesCurrentDir(p) {
		cleaned += string(filepath.Separator) + "."
	}
	return filepath.Dir(cleaned), filepath.Base(cleaned)
}

// rebaseName compares path with what it resolved to, and returns the
// resolved path with path's trailing "/." or "/" and, when resolving changed
// the last element, the name the archive's entries must take.
func rebaseName(path, resolved string) (string, string) {
	if specifiesCurrentDir(path) && !specifiesCurrentDir(resolved) {
		resolved += string(filepath.Separator) + "."
	}
	if hasTrailingSeparator(path) && !hasTrailingSeparator(resolved) {
		resolved += string(filepath.Separator)
	}
	var name string
	if filepath.Base(path) != filepath.Base(resolved) {
		name = filepath.Base(path)
	}
	return resolved, name
}

// localSourceInfo describes a local copy source: its directory's symlinks
// resolved, the last element's too with followLink.
func localSourceInfo(path string, followLink bool) (copyInfo, error) {
	var resolved, rebase string
	if followLink {
		r, err := filepath.EvalSymlinks(path)
		if err != nil {
			return copyInfo{}, err
		}
		resolved, rebase = rebaseName(path, r)
	} else {
		dir, base := filepath.Split(path)
		rdir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return copyInfo{}, err
		}
		resolved = rdir + string(filepath.Separator) + base
		if hasTrailingSeparator(path) && filepath.Base(path) != filepath.Base(resolved) {
			rebase = filepath.Base(path)
		}
	}
	fi, err := os.Lstat(resolved)
	if err != nil {
		return copyInfo{}, err
	}
	return copyInfo{Path: resolved, Exists: true, IsDir: fi.IsDir(), RebaseName: rebase}, nil
}

// localDestinationInfo describes a local copy destination, following
// symlinks to their target; a missing destination needs an existing parent
// directory.
func localDestinationInfo(path string) (copyInfo, error) {
	fi, err := os.Lstat(path)
	for n := 0; err == nil && fi.Mode()&os.ModeSymlink != 0; n++ {
		if n > 10 {
			return copyInfo{}, errors.New("too many symlinks in " + path)
		}
		target, err := os.Readlink(path)
		if err != nil {
			return copyInfo{}, err
		}
		if !filepath.IsAbs(target) {
			dir, _ := splitPathDirEntry(path)
			target = filepath.Join(dir, target)
		}
		path = target
		fi, err = os.Lstat(path)
	}
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return copyInfo{}, err
		}
		dir, _ := splitPathDirEntry(path)
		pfi, err := os.Stat(dir)
		if err != nil {
			return copyInfo{}, err
		}
		if !pfi.IsDir() {
			return copyInfo{}, errNotDirectory
		}
		return copyInfo{Path: path}, nil
	}
	return copyInfo{Path: path, Exists: true, IsDir: fi.IsDir()}, nil
}

// prepareArchiveCopy decides where an archive of src is to be extracted for
// dst, and renames its entries if need be (the table above).
func prepareArchiveCopy(content io.Reader, src, dst copyInfo) (string, io.ReadCloser, error) {
	dstDir, dstBase := splitPathDirEntry(dst.Path)
	_, srcBase := splitPathDirEntry(src.Path)
	if src.RebaseName != "" {
		srcBase = src.RebaseName
	}
	switch {
	case dst.Exists && dst.IsDir:
		return dst.Path, io.NopCloser(content), nil
	case dst.Exists && src.IsDir:
		return "", nil, errCannotCopyDir
	case !dst.Exists && !src.IsDir && assertsDirectory(dst.Path):
		return "", nil, errDirNotExists
	}
	return dstDir, rebaseArchive(content, srcBase, dstBase), nil
}

// rebaseArchive renames the first element of every entry (and hard link
// target) from oldBase to newBase.
func rebaseArchive(content io.Reader, oldBase, newBase string) io.ReadCloser {
	if oldBase == string(filepath.Separator) {
		oldBase = ""
	}
	rename := func(name string) string {
		switch {
		case oldBase == "":
			return newBase + "/" + strings.TrimPrefix(name, "/")
		case name == oldBase || strings.HasPrefix(name, oldBase+"/"):
			return newBase + name[len(oldBase):]
		}
		return name
	}
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(content)
		tw := tar.NewWriter(pw)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			hdr.Format = tar.FormatPAX
			hdr.Name = rename(hdr.Name)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = rename(hdr.Linkname)
			}
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// tarLocal archives a local source: its entries named after its base name
// (or RebaseName), a directory with everything below it, symlinks as links.
func tarLocal(src copyInfo) io.ReadCloser {
	dir, base := splitPathDirEntry(src.Path)
	name := base
	if src.RebaseName != "" {
		name = src.RebaseName
	}
	root := filepath.Join(dir, base)
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			entry := name
			if rel != "." {
				entry = name + "/" + filepath.ToSlash(rel)
			}
			return addTarEntry(tw, p, entry)
		})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func addTarEntry(tw *tar.Writer, path, name string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	var link string
	if fi.Mode()&os.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = name
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	hdr.Format = tar.FormatPAX
	hdr.Uname, hdr.Gname = "", ""
	// Whole seconds and no access or change time, as docker's archives: a PAX record
	// for each would make the stream (and the "Successfully copied" size) larger.
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// copyToLocal extracts an archive of src (from a container) to the local
// path dst, as docker's cp does.
func copyToLocal(content io.Reader, src copyInfo, dst string) error {
	dstInfo, err := localDestinationInfo(dst)
	if err != nil {
		return err
	}
	dir, archive, err := prepareArchiveCopy(content, src, dstInfo)
	if err != nil {
		return err
	}
	defer archive.Close()
	return untar(archive, dir)
}

// untar extracts an archive into dir without changing owners, never
// replacing a directory by a file or the reverse, and never writing outside
// dir (entries are resolved through an os.Root).
func untar(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	type dirTime struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTime
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(strings.TrimPrefix(hdr.Name, "/")))
		if name != "." && !filepath.IsLocal(name) {
			return fmt.Errorf("%q is outside of %q", hdr.Name, dir)
		}
		if name != "." {
			if parent := filepath.Dir(name); parent != "." {
				if err := root.MkdirAll(parent, 0o755); err != nil {
					return err
				}
			}
		}
		if fi, err := root.Lstat(name); err == nil {
			isDir := hdr.Typeflag == tar.TypeDir
			switch {
			case fi.IsDir() && !isDir:
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", filepath.Join(dir, name), hdr.Name)
			case !fi.IsDir() && isDir:
				return fmt.Errorf("cannot overwrite non-directory %q with directory %q", filepath.Join(dir, name), hdr.Name)
			case !isDir:
				if err := root.Remove(name); err != nil {
					return err
				}
			}
		}
		mode := hdr.FileInfo().Mode()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			dirs = append(dirs, dirTime{name, hdr.ModTime})
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
			continue // no mode or times of its own
		case tar.TypeLink:
			target := filepath.Clean(filepath.FromSlash(strings.TrimPrefix(hdr.Linkname, "/")))
			if err := root.Link(target, name); err != nil {
				return err
			}
			continue
		default:
			continue // devices and fifos are not copied out of a container
		}
		if err := root.Chmod(name, mode.Perm()|mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeDir {
			if err := root.Chtimes(name, hdr.AccessTime, hdr.ModTime); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := root.Chtimes(dirs[i].name, dirs[i].mtime, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}
