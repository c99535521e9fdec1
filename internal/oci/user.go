package oci

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// User resolution.
//
// --user is "user[:group]", each a name or a number, resolved against the
// container's own /etc/passwd and /etc/group (opened through os.Root, so a
// symlink in the image cannot point outside the rootfs):
//
//	""            uid 0, gid 0, home "/" unless passwd says otherwise
//	"name"        that entry's uid, gid and home; not found is an error
//	"1000"        the entry with that uid (or name), else uid 1000, gid 0
//	"u:g"         gid from the group named or numbered g; not found and not
//	              numeric is an error
//
// Without an explicit group the user also gets, as supplementary groups, every
// group that lists its name. The process's additional gids are then the
// primary gid, those groups, and each --group-add (a name or a number).

// maxID is the largest uid or gid accepted, as in moby/sys/user.
const maxID = 1<<31 - 1

// passwdEntry and groupEntry are the fields of /etc/passwd and /etc/group
// lines that resolution needs.
type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// execUser is a resolved --user.
type execUser struct {
	uid, gid int
	sgids    []int
	home     string
}

// resolveUser resolves spec and groupAdd against the files under rootfs and
// returns the process's user and home directory.
func resolveUser(rootfs, spec string, groupAdd []string) (specs.User, string, error) {
	var passwd []passwdEntry
	var groups []groupEntry
	if rootfs != "" {
		root, err := os.OpenRoot(rootfs)
		if err != nil {
			return specs.User{}, "", fmt.Errorf("open container root: %w", err)
		}
		defer root.Close()
		if passwd, err = readPasswd(root); err != nil {
			return specs.User{}, "", err
		}
		if groups, err = readGroup(root); err != nil {
			return specs.User{}, "", err
		}
	}
	u, err := lookupUser(spec, passwd, groups)
	if err != nil {
		return specs.User{}, "", err
	}
	extra, err := lookupGroups(groupAdd, groups)
	if err != nil {
		return specs.User{}, "", err
	}
	out := specs.User{UID: uint32(u.uid), GID: uint32(u.gid), AdditionalGids: []uint32{uint32(u.gid)}}
	for _, g := range append(u.sgids, extra...) {
		out.AdditionalGids = append(out.AdditionalGids, uint32(g))
	}
	return out, u.home, nil
}

// lookupUser resolves "user[:group]".
func lookupUser(spec string, passwd []passwdEntry, groups []groupEntry) (execUser, error) {
	userArg, groupArg, _ := strings.Cut(spec, ":")
	u := execUser{home: "/"}
	uidArg, uidErr := strconv.Atoi(userArg)

	var found *passwdEntry
	for i, p := range passwd {
		if (userArg == "" && p.uid == 0) || (userArg != "" && (p.name == userArg || (uidErr == nil && p.uid == uidArg))) {
			found = &passwd[i]
			break
		}
	}
	name := ""
	switch {
	case found != nil:
		u.uid, u.gid, u.home, name = found.uid, found.gid, found.home, found.name
	case userArg == "":
	case uidErr != nil:
		return u, invalid("unable to find user %s: no matching entries in passwd file", userArg)
	case uidArg < 0 || uidArg > maxID:
		return u, invalid("uids and gids must be in range 0-%d", maxID)
	default:
		u.uid = uidArg
	}

	if groupArg != "" {
		gidArg, gidErr := strconv.Atoi(groupArg)
		var g *groupEntry
		for i := range groups {
			if groups[i].name == groupArg || (gidErr == nil && groups[i].gid == gidArg) {
				g = &groups[i]
				break
			}
		}
		switch {
		case g != nil:
			u.gid = g.gid
		case gidErr != nil:
			return u, invalid("unable to find group %s: no matching entries in group file", groupArg)
		case gidArg < 0 || gidArg > maxID:
			return u, invalid("uids and gids must be in range 0-%d", maxID)
		default:
			u.gid = gidArg
		}
		return u, nil
	}
	if name != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == name {
					u.sgids = append(u.sgids, g.gid)
					break
				}
			}
		}
	}
	return u, nil
}

// lookupGroups resolves --group-add values, names or numbers.
func lookupGroups(list []string, groups []groupEntry) ([]int, error) {
	var out []int
	for _, ag := range list {
		n, nerr := strconv.Atoi(ag)
		found := false
		for _, g := range groups {
			if g.name == ag || (nerr == nil && g.gid == n) {
				out = append(out, g.gid)
				found = true
				break
			}
		}
		if found {
			continue
		}
		if nerr != nil {
			return nil, invalid("Unable to find group %s: no matching entries in group file", ag)
		}
		if n < 0 || n > maxID {
			return nil, invalid("Unable to find group %s: uids and gids must be in range 0-%d", ag, maxID)
		}
		out = append(out, n)
	}
	return out, nil
}

// readPasswd reads etc/passwd under root; a missing file has no entries.
func readPasswd(root *os.Root) ([]passwdEntry, error) {
	var out []passwdEntry
	err := readColonFile(root, "etc/passwd", func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// readGroup reads etc/group under root; a missing file has no entries.
func readGroup(root *os.Root) ([]groupEntry, error) {
	var out []groupEntry
	err := readColonFile(root, "etc/group", func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	})
	return out, err
}

// readColonFile calls line with the colon-separated fields of each line of
// name that is neither blank nor a comment.
func readColonFile(root *os.Root, name string, line func([]string)) error {
	f, err := openInRoot(root, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the container's /%s: %w", name, err)
	}
	defer f.Close()
	// A passwd file is small; refuse to read an absurd one.
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		line(strings.Split(text, ":"))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read the container's /%s: %w", name, err)
	}
	return nil
}

// openInRoot opens name under root. os.Root refuses a symlink to an absolute
// path, which an image means relative to its own root (etc/passwd ->
// /usr/share/passwd); such a final symlink is followed inside root, up to 8
// times.
func openInRoot(root *os.Root, name string) (*os.File, error) {
	for range 8 {
		f, err := root.Open(name)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		fi, lerr := root.Lstat(name)
		if lerr != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return nil, err
		}
		target, lerr := root.Readlink(name)
		if lerr != nil || !strings.HasPrefix(target, "/") {
			return nil, err
		}
		name = strings.TrimLeft(target, "/")
	}
	return nil, fmt.Errorf("open %s: too many levels of symbolic links", name)
}
