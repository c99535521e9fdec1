package runtimecli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cmdUpdate changes a live container's resources, from flags or from a
// LinuxResources JSON file (-r, "-" for stdin).
func cmdUpdate(g *globals, args []string) error {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	resources := fs.String("resources", "", "path to a resources JSON file, - for stdin")
	fs.StringVar(resources, "r", "", "path to a resources JSON file, - for stdin")
	vals := map[string]*string{}
	for _, name := range []string{"blkio-weight", "cpu-period", "cpu-quota", "cpu-share", "cpu-rt-period",
		"cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "memory", "memory-reservation", "memory-swap",
		"pids-limit", "kernel-memory", "kernel-memory-tcp"} {
		vals[name] = fs.String(name, "", name)
	}
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	var res specs.LinuxResources
	if *resources != "" {
		var in io.Reader = os.Stdin
		if *resources != "-" {
			f, err := os.Open(*resources)
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
			defer f.Close()
			in = f
		}
		if err := json.NewDecoder(in).Decode(&res); err != nil {
			return fmt.Errorf("update: resources: invalid JSON: %w", err)
		}
	}
	if err := resourcesFromFlags(vals, &res); err != nil {
		return err
	}
	return g.runtime().Update(pos[0], &res)
}

func resourcesFromFlags(v map[string]*string, res *specs.LinuxResources) error {
	mem := func() *specs.LinuxMemory {
		if res.Memory == nil {
			res.Memory = &specs.LinuxMemory{}
		}
		return res.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if res.CPU == nil {
			res.CPU = &specs.LinuxCPU{}
		}
		return res.CPU
	}
	for name, p := range v {
		s := *p
		if s == "" {
			continue
		}
		var err error
		switch name {
		case "memory":
			mem().Limit, err = sizeFlag(name, s)
		case "memory-reservation":
			mem().Reservation, err = sizeFlag(name, s)
		case "memory-swap":
			mem().Swap, err = sizeFlag(name, s)
		case "kernel-memory":
			mem().Kernel, err = sizeFlag(name, s)
		case "kernel-memory-tcp":
			mem().KernelTCP, err = sizeFlag(name, s)
		case "cpu-share":
			cpu().Shares, err = uintFlag(name, s)
		case "cpu-period":
			cpu().Period, err = uintFlag(name, s)
		case "cpu-rt-period":
			cpu().RealtimePeriod, err = uintFlag(name, s)
		case "cpu-quota":
			cpu().Quota, err = intFlag(name, s)
		case "cpu-rt-runtime":
			cpu().RealtimeRuntime, err = intFlag(name, s)
		case "cpuset-cpus":
			cpu().Cpus = s
		case "cpuset-mems":
			cpu().Mems = s
		case "pids-limit":
			var n *int64
			if n, err = intFlag(name, s); err == nil {
				res.Pids = &specs.LinuxPids{Limit: *n}
			}
		case "blkio-weight":
			var n uint64
			if n, err = strconv.ParseUint(s, 10, 16); err == nil {
				w := uint16(n)
				res.BlockIO = &specs.LinuxBlockIO{Weight: &w}
			} else {
				err = fmt.Errorf("update: invalid --blkio-weight %q", s)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func uintFlag(name, s string) (*uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("update: invalid --%s %q: want a non-negative integer", name, s)
	}
	return &n, nil
}

func intFlag(name, s string) (*int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("update: invalid --%s %q: want an integer", name, s)
	}
	return &n, nil
}

// sizeFlag parses a byte count with an optional k/m/g/t suffix (powers of 1024);
// -1 means unlimited.
func sizeFlag(name, s string) (*int64, error) {
	bad := fmt.Errorf("update: invalid --%s %q: want a size such as 512m or -1", name, s)
	if s == "-1" {
		n := int64(-1)
		return &n, nil
	}
	t := strings.ToLower(strings.TrimSuffix(strings.ToLower(s), "b"))
	mult := int64(1)
	if len(t) > 0 {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return nil, bad
	}
	n *= mult
	return &n, nil
}
