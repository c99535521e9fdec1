package opts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// Mounts is the repeatable --mount, each value a CSV list of key=value
// fields, as docker reads it:
//
//	type=bind,source=/data,target=/data,readonly,bind-propagation=rslave
//	type=volume,src=cache,dst=/cache,volume-opt=o=uid=1000,volume-nocopy
//	type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770
//
// The type defaults to volume; src/source, dst/destination/target and
// ro/readonly are synonyms; a relative source starting with "." is made
// absolute. The options of one type cannot be given to another.
type Mounts struct {
	values []mount.Mount
}

func (m *Mounts) String() string {
	var out []string
	for _, v := range m.values {
		out = append(out, fmt.Sprintf("%s %s %s", v.Type, v.Source, v.Target))
	}
	return strings.Join(out, ", ")
}

func (m *Mounts) Type() string { return "mount" }

// Values returns the mounts in the order given.
func (m *Mounts) Values() []mount.Mount { return m.values }

func (m *Mounts) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}
	mt := mount.Mount{Type: mount.TypeVolume}
	volume := func() *mount.VolumeOptions {
		if mt.VolumeOptions == nil {
			mt.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{}}
		}
		if mt.VolumeOptions.DriverConfig == nil {
			mt.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		return mt.VolumeOptions
	}
	bind := func() *mount.BindOptions {
		if mt.BindOptions == nil {
			mt.BindOptions = &mount.BindOptions{}
		}
		return mt.BindOptions
	}
	tmpfs := func() *mount.TmpfsOptions {
		if mt.TmpfsOptions == nil {
			mt.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return mt.TmpfsOptions
	}
	setKV := func(target map[string]string, v string) {
		if k, val, _ := strings.Cut(v, "="); k != "" {
			target[k] = val
		}
	}
	parseBool := func(key, val string) (bool, error) {
		b, err := strconv.ParseBool(val)
		if err != nil {
			return false, fmt.Errorf("invalid value for %s: %s", key, val)
		}
		return b, nil
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				mt.ReadOnly = true
			case "volume-nocopy":
				volume().NoCopy = true
			case "bind-nonrecursive":
				bind().NonRecursive = true
			default:
				return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
			continue
		}
		switch key {
		case "type":
			mt.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			mt.Source = val
			if !filepath.IsAbs(val) && strings.HasPrefix(val, ".") {
				if abs, err := filepath.Abs(val); err == nil {
					mt.Source = abs
				}
			}
		case "target", "dst", "destination":
			mt.Target = val
		case "readonly", "ro":
			if mt.ReadOnly, err = parseBool(key, val); err != nil {
				return err
			}
		case "consistency":
			mt.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bind().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			if bind().NonRecursive, err = parseBool(key, val); err != nil {
				return err
			}
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bind().NonRecursive = true
			case "writable":
				bind().ReadOnlyNonRecursive = true
			case "readonly":
				bind().ReadOnlyForceRecursive = true
			default:
				return fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "volume-subpath":
			volume().Subpath = val
		case "volume-nocopy":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("invalid value for volume-nocopy: %s", val)
			}
			volume().NoCopy = b
		case "volume-label":
			setKV(volume().Labels, val)
		case "volume-driver":
			volume().DriverConfig.Name = val
		case "volume-opt":
			d := volume().DriverConfig
			if d.Options == nil {
				d.Options = map[string]string{}
			}
			setKV(d.Options, val)
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfs().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfs().Mode = os.FileMode(n)
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	switch {
	case mt.Type == "":
		return errors.New("type is required")
	case mt.Target == "":
		return errors.New("target is required")
	case mt.VolumeOptions != nil && mt.Type != mount.TypeVolume:
		return fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", mt.Type)
	case mt.BindOptions != nil && mt.Type != mount.TypeBind:
		return fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", mt.Type)
	case mt.TmpfsOptions != nil && mt.Type != mount.TypeTmpfs:
		return fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", mt.Type)
	}
	if b := mt.BindOptions; b != nil {
		if b.ReadOnlyNonRecursive && !mt.ReadOnly {
			return errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
		if b.ReadOnlyForceRecursive {
			if !mt.ReadOnly {
				return errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if b.Propagation != mount.PropagationRPrivate {
				return errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		}
	}
	m.values = append(m.values, mt)
	return nil
}

// VolumeSpec is one -v value taken apart: [SOURCE:]TARGET[:OPTIONS].
type VolumeSpec struct {
	Source, Target string
	Bind           bool // the source is a host path (starts with ., / or ~), not a volume name
}

// ParseVolume reads a -v value as docker does. A spec with a source is a
// bind mount or a named volume; one without is an anonymous volume.
// Errors read "invalid spec: a::b: empty section between colons".
func ParseVolume(spec string) (VolumeSpec, error) {
	var v VolumeSpec
	switch len(spec) {
	case 0:
		return v, errors.New("invalid empty volume spec")
	case 1, 2:
		v.Target = spec
		return v, nil
	}
	parts := strings.Split(spec, ":")
	for i, p := range parts {
		if p == "" {
			return v, fmt.Errorf("invalid spec: %s: empty section between colons", spec)
		}
		switch {
		case i == 0 && len(parts) == 1:
			v.Target = p
		case i == 0:
			v.Source = p
		case i == 1:
			v.Target = p
		case i == 2:
			// options (ro, rw, nocopy, a propagation): passed on as they are
		default:
			return v, fmt.Errorf("invalid spec: %s: too many colons", spec)
		}
	}
	if v.Source != "" {
		switch v.Source[0] {
		case '.', '/', '~':
			v.Bind = true
		}
	}
	return v, nil
}
