package oci

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/mount"
)

// tmpfsFlagGroups maps each flag a tmpfs accepts to the group it belongs to;
// of flags in one group only the last given counts ("exec" after "noexec"
// wins). Binding and propagation flags form one group.
var tmpfsFlagGroups = map[string]string{
	"ro": "rdonly", "rw": "rdonly",
	"suid": "nosuid", "nosuid": "nosuid",
	"dev": "nodev", "nodev": "nodev",
	"exec": "noexec", "noexec": "noexec",
	"sync": "sync", "async": "sync",
	"dirsync": "dirsync",
	"remount": "remount",
	"mand":    "mand", "nomand": "mand",
	"atime": "noatime", "noatime": "noatime",
	"diratime": "nodiratime", "nodiratime": "nodiratime",
	"relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"bind": "propagation", "rbind": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
	"private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
}

// tmpfsDataKeys are the key=value options a tmpfs accepts.
var tmpfsDataKeys = map[string]bool{
	"size": true, "mode": true, "uid": true, "gid": true,
	"nr_inodes": true, "nr_blocks": true, "mpol": true,
}

// tmpfsDefaults are the options every user tmpfs starts from, as in Docker.
var tmpfsDefaults = []string{"noexec", "nosuid", "nodev", "rprivate"}

// tmpfsOptions returns the options of a user tmpfs: the defaults, then data
// (comma-separated mount(8) options), later ones overriding earlier ones of
// the same kind, in the order they were last given.
func tmpfsOptions(data string) ([]string, error) {
	opts := append([]string(nil), tmpfsDefaults...)
	if data != "" {
		opts = append(opts, strings.Split(data, ",")...)
	}
	seen := map[string]bool{}
	var out []string
	for i := len(opts) - 1; i >= 0; i-- {
		o := opts[i]
		if o == "defaults" {
			continue
		}
		key, isFlag := tmpfsFlagGroups[o]
		if !isFlag {
			k, _, ok := strings.Cut(o, "=")
			if !ok || !tmpfsDataKeys[k] {
				return nil, invalid("Invalid tmpfs option %q", o)
			}
			key = "=" + k
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, o)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// MountFromAPI turns one of HostConfig.Mounts into a Mount. source is the host
// path the caller resolved: a bind's Source, a volume's directory (with its
// subpath), an image mount's root; it is unused for a tmpfs.
func MountFromAPI(m mount.Mount, source string) (Mount, error) {
	out := Mount{Destination: m.Target, Source: source, ReadOnly: m.ReadOnly}
	switch m.Type {
	case mount.TypeBind, mount.TypeVolume, mount.TypeImage:
		if o := m.BindOptions; o != nil {
			out.Propagation = o.Propagation
			out.NonRecursive = o.NonRecursive
			out.ReadOnlyNonRecursive = o.ReadOnlyNonRecursive
			if o.ReadOnlyNonRecursive && o.ReadOnlyForceRecursive {
				return Mount{}, invalid("mount options conflict: ReadOnlyNonRecursive && ReadOnlyForceRecursive")
			}
		}
		if m.Type == mount.TypeImage {
			out.ReadOnly = true
		}
	case mount.TypeTmpfs:
		data, err := tmpfsData(m.TmpfsOptions, m.ReadOnly)
		if err != nil {
			return Mount{}, invalid("invalid mount config for type %q: %v", m.Type, err)
		}
		out.Source, out.Tmpfs, out.TmpfsOptions, out.ReadOnly = "", true, data, false
	default:
		return Mount{}, invalid("invalid mount config for type %q: mount type unknown", m.Type)
	}
	return out, nil
}

// tmpfsData renders the API's tmpfs options as mount(8) options, as Docker
// does: "ro", "mode=<octal>", "size=<n>[kmg]" and the exec/noexec flags.
func tmpfsData(o *mount.TmpfsOptions, readOnly bool) (string, error) {
	var opts []string
	if readOnly {
		opts = append(opts, "ro")
	}
	if o != nil && o.Mode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", o.Mode))
	}
	if o != nil && o.SizeBytes != 0 {
		size, suffix := o.SizeBytes, ""
		for _, u := range []struct {
			suffix string
			n      int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%u.n == 0 {
				size, suffix = size/u.n, u.suffix
				break
			}
		}
		opts = append(opts, fmt.Sprintf("size=%d%s", size, suffix))
	}
	if o != nil {
		for _, kv := range o.Options {
			if len(kv) < 1 || len(kv) > 2 {
				return "", fmt.Errorf("invalid option array length")
			}
			if kv[0] != "exec" && kv[0] != "noexec" {
				return "", fmt.Errorf("invalid option: %s", kv[0])
			}
			if len(kv) == 1 {
				opts = append(opts, kv[0])
			} else {
				opts = append(opts, kv[0]+"="+kv[1])
			}
		}
	}
	return strings.Join(opts, ","), nil
}
