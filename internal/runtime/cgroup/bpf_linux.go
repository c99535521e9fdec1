package cgroup

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setDevicesV2 compiles the rules into a device program and attaches it to the cgroup
// with BPF_F_ALLOW_MULTI, then detaches the programs that were there before (the new
// one is in force before the old ones go, so the container never has more access than
// either set of rules gives). Rules that leave every device allowed attach nothing.
func setDevicesV2(dir string, rules []specs.LinuxDeviceCgroup) error {
	st, err := newDevState(rules)
	if err != nil {
		return err
	}
	cg, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroup: device rules: open %s: %w", dir, err)
	}
	defer unix.Close(cg)
	old, err := queryDevicePrograms(cg)
	if err != nil {
		return fmt.Errorf("cgroup: device rules for %s: %w", dir, err)
	}
	if !st.defaultAllow || len(st.exceptions) > 0 {
		prog, err := loadDeviceProgram(st.program())
		if err != nil {
			return fmt.Errorf("cgroup: device rules for %s: %w", dir, err)
		}
		defer unix.Close(prog)
		if err := bpfAttach(unix.BPF_PROG_ATTACH, cg, prog, unix.BPF_F_ALLOW_MULTI); err != nil {
			// A program attached without ALLOW_MULTI (by another manager) refuses
			// company: take it off first.
			if len(old) == 0 || detachAll(cg, old) != nil {
				return fmt.Errorf("cgroup: device rules: attach to %s: %w", dir, err)
			}
			old = nil
			if err := bpfAttach(unix.BPF_PROG_ATTACH, cg, prog, unix.BPF_F_ALLOW_MULTI); err != nil {
				return fmt.Errorf("cgroup: device rules: attach to %s: %w", dir, err)
			}
		}
	}
	if err := detachAll(cg, old); err != nil {
		return fmt.Errorf("cgroup: device rules: detach old programs from %s: %w", dir, err)
	}
	return nil
}

func bpf(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// loadDeviceProgram loads the program and returns its fd; a verifier rejection carries
// the verifier's log.
func loadDeviceProgram(prog []insn) (int, error) {
	code := encode(prog)
	license := []byte("Apache\x00")
	type progLoadAttr struct {
		progType    uint32
		insnCnt     uint32
		insns       uint64
		license     uint64
		logLevel    uint32
		logSize     uint32
		logBuf      uint64
		kernVersion uint32
		progFlags   uint32
		progName    [unix.BPF_OBJ_NAME_LEN]byte
	}
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "berth_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil {
		runtime.KeepAlive(code)
		runtime.KeepAlive(license)
		return fd, nil
	}
	// Again with the verifier's log, to say why.
	log := make([]byte, 1<<16)
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
	if fd, err2 := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err2 == nil {
		unix.Close(fd)
	}
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(log)
	return -1, fmt.Errorf("load device program: %w: %s", err, unix.ByteSliceToString(log))
}

type progAttachAttr struct {
	targetFd    uint32
	attachBpfFd uint32
	attachType  uint32
	attachFlags uint32
}

// bpfAttach runs BPF_PROG_ATTACH or BPF_PROG_DETACH of prog on cgroup fd cg.
func bpfAttach(cmd, cg, prog int, flags uint32) error {
	attr := progAttachAttr{targetFd: uint32(cg), attachBpfFd: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: flags}
	_, err := bpf(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	return err
}

// queryDevicePrograms lists the ids of device programs attached to the cgroup itself.
func queryDevicePrograms(cg int) ([]uint32, error) {
	type progQueryAttr struct {
		targetFd    uint32
		attachType  uint32
		queryFlags  uint32
		attachFlags uint32
		progIDs     uint64
		progCnt     uint32
		_           uint32
	}
	for n := 64; ; n *= 4 {
		ids := make([]uint32, n)
		attr := progQueryAttr{targetFd: uint32(cg), attachType: unix.BPF_CGROUP_DEVICE, progIDs: uint64(uintptr(unsafe.Pointer(&ids[0]))), progCnt: uint32(n)}
		_, err := bpf(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(ids)
		if errors.Is(err, unix.ENOSPC) && n < 1<<16 {
			continue // more programs than room; attr.progCnt says how many
		}
		if err != nil {
			return nil, fmt.Errorf("query device programs: %w", err)
		}
		return ids[:attr.progCnt], nil
	}
}

// detachAll detaches the programs with the given ids from the cgroup.
func detachAll(cg int, ids []uint32) error {
	var errs []error
	for _, id := range ids {
		attr := struct{ progID, nextID, openFlags uint32 }{progID: id}
		fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		if errors.Is(err, unix.ENOENT) {
			continue // gone meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("program %d: %w", id, err))
			continue
		}
		err = bpfAttach(unix.BPF_PROG_DETACH, cg, fd, 0)
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("detach program %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
