//go:build ignore

// mktables generates ztables.go, the syscall name <-> number tables the
// compiler uses, from the kernel-derived zsysnum_linux_*.go files of
// golang.org/x/sys/unix (the module version pinned in go.mod).
//
// Run it with `go generate ./internal/runtime/seccomp/`.
//
// x/sys has no x32 table, so the x32 column is derived the way the kernel
// builds it (arch/x86/entry/syscalls/syscall_64.tbl): every "common" x86_64
// syscall with __X32_SYSCALL_BIT set, minus the "64"-only ones, plus the
// x32-specific numbers 512-547. Syscalls newer than the pinned x/sys and the
// ARM private syscalls (__ARM_NR_*) are added from the lists below.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// column is one table column; its order is the order of the col* constants.
type column struct {
	constName string // Go constant emitted for the column index
	goarch    string // zsysnum_linux_<goarch>.go; empty for derived columns
	same      []string
}

var columns = []column{
	{constName: "colX86_64", goarch: "amd64"},
	{constName: "colX86", goarch: "386"},
	{constName: "colX32"},
	{constName: "colAArch64", goarch: "arm64"},
	{constName: "colARM", goarch: "arm"},
	{constName: "colRISCV64", goarch: "riscv64"},
	{constName: "colPPC64", goarch: "ppc64le", same: []string{"ppc64"}},
	{constName: "colPPC", goarch: "ppc"},
	{constName: "colS390X", goarch: "s390x"},
	{constName: "colMIPS", goarch: "mips", same: []string{"mipsle"}},
	{constName: "colMIPS64", goarch: "mips64", same: []string{"mips64le"}},
	{constName: "colLoongArch64", goarch: "loong64"},
}

// x86_64 syscalls of ABI "64": absent from the x32 table.
var x86_64Only = strings.Fields(`
	rt_sigaction rt_sigreturn ioctl readv writev recvfrom sendmsg recvmsg
	setsockopt getsockopt execve ptrace rt_sigpending rt_sigtimedwait
	rt_sigqueueinfo sigaltstack uselib _sysctl create_module get_kernel_syms
	query_module nfsservctl set_thread_area io_setup io_submit get_thread_area
	epoll_ctl_old epoll_wait_old timer_create vserver mq_notify kexec_load
	waitid set_robust_list get_robust_list vmsplice move_pages preadv pwritev
	rt_tgsigqueueinfo recvmmsg sendmmsg process_vm_readv process_vm_writev
	execveat preadv2 pwritev2`)

// x32-specific syscalls, numbered from 512 (before __X32_SYSCALL_BIT).
var x32Specific = strings.Fields(`
	rt_sigaction rt_sigreturn ioctl readv writev recvfrom sendmsg recvmsg
	execve ptrace rt_sigpending rt_sigtimedwait rt_sigqueueinfo sigaltstack
	timer_create mq_notify kexec_load waitid set_robust_list get_robust_list
	vmsplice move_pages preadv pwritev rt_tgsigqueueinfo recvmmsg sendmmsg
	process_vm_readv process_vm_writev setsockopt getsockopt io_setup
	io_submit execveat preadv2 pwritev2`)

// Syscalls added to the unified numbering after the pinned x/sys. The
// number is the generic one; o32 MIPS adds 4000 and n64 MIPS adds 5000.
var newerGeneric = map[string]int{
	"file_getattr": 468,
	"file_setattr": 469,
	"listns":       470,
}

// Per-column additions: x86_64-only newer syscalls and ARM's private ones.
var extra = map[string]map[string]int{
	"colX86_64": {"uprobe": 336},
	"colARM": {
		"breakpoint":       0x0f0001,
		"cacheflush":       0x0f0002,
		"usr26":            0x0f0003,
		"usr32":            0x0f0004,
		"set_tls":          0x0f0005,
		"get_tls":          0x0f0006,
		"sync_file_range2": 341, // the generic name of arm_sync_file_range
	},
}

// Not syscalls, though x/sys lists them.
var notSyscalls = map[string]bool{"syscall_mask": true}

// nameIndexSize is the number of slots of the generated name hash index.
const nameIndexSize = 1024

// fnv1a must match fnv1a in arch.go.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

var sysRE = regexp.MustCompile(`(?m)^\s*SYS_(\w+)\s*=\s*(\d+)\s*$`)

func parse(dir, goarch string) map[string]int {
	b, err := os.ReadFile(filepath.Join(dir, "zsysnum_linux_"+goarch+".go"))
	if err != nil {
		log.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range sysRE.FindAllStringSubmatch(string(b), -1) {
		name := strings.ToLower(m[1])
		if notSyscalls[name] {
			continue
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			log.Fatal(err)
		}
		out[name] = n
	}
	return out
}

func main() {
	dirOut, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	if err != nil {
		log.Fatalf("locate golang.org/x/sys: %v", err)
	}
	unixDir := filepath.Join(strings.TrimSpace(string(dirOut)), "unix")
	verOut, _ := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "golang.org/x/sys").Output()

	tables := make([]map[string]int, len(columns))
	for i, c := range columns {
		if c.goarch == "" {
			continue
		}
		tables[i] = parse(unixDir, c.goarch)
		for _, other := range c.same {
			o := parse(unixDir, other)
			if fmt.Sprint(o) != fmt.Sprint(tables[i]) {
				log.Fatalf("%s and %s tables differ", c.goarch, other)
			}
		}
	}
	for i, c := range columns {
		if c.goarch == "" {
			continue
		}
		base := 0
		switch c.constName {
		case "colMIPS":
			base = 4000
		case "colMIPS64":
			base = 5000
		}
		for name, n := range newerGeneric {
			if old, ok := tables[i][name]; ok && old != base+n {
				log.Fatalf("%s: %s is %d in x/sys, expected %d", c.goarch, name, old, base+n)
			}
			tables[i][name] = base + n
		}
		for name, n := range extra[c.constName] {
			tables[i][name] = n
		}
	}

	// Derive x32 from x86_64.
	const x32Bit = 0x40000000
	x32 := map[string]int{}
	only := map[string]bool{}
	for _, n := range x86_64Only {
		only[n] = true
	}
	for name, n := range tables[0] {
		if !only[name] {
			x32[name] = x32Bit | n
		}
	}
	for i, name := range x32Specific {
		x32[name] = x32Bit | (512 + i)
	}
	tables[2] = x32

	names := map[string]bool{}
	for _, t := range tables {
		for n := range t {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	// Distinct numbers of each column, ascending, and each name's rank
	// among them: the compiler keeps per-arch state in arrays indexed by
	// rank, already in number order.
	colNumbers := make([][]int, len(columns))
	rank := make([]map[int]int, len(columns))
	for i, t := range tables {
		seen := map[int]bool{}
		for _, n := range t {
			if !seen[n] {
				seen[n] = true
				colNumbers[i] = append(colNumbers[i], n)
			}
		}
		sort.Ints(colNumbers[i])
		rank[i] = map[int]int{}
		for r, n := range colNumbers[i] {
			rank[i][n] = r
		}
	}

	// Open-addressing hash index over the names (FNV-1a, linear probing).
	index := make([]int, nameIndexSize)
	for row, name := range sorted {
		h := fnv1a(name) % nameIndexSize
		for index[h] != 0 {
			h = (h + 1) % nameIndexSize
		}
		index[h] = row + 1
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by mktables.go from golang.org/x/sys %s; DO NOT EDIT.\n\n", strings.TrimSpace(string(verOut)))
	b.WriteString("package seccomp\n\n")
	b.WriteString("// Columns of syscallTable: one per syscall numbering.\nconst (\n")
	for i, c := range columns {
		if i == 0 {
			fmt.Fprintf(&b, "\t%s = iota\n", c.constName)
		} else {
			fmt.Fprintf(&b, "\t%s\n", c.constName)
		}
	}
	b.WriteString("\tnumColumns\n)\n\n")
	b.WriteString("// syscallTable lists every syscall name known to any column, sorted by\n")
	b.WriteString("// name; nr[col] is its number there, or -1 if that ABI lacks it, and\n")
	b.WriteString("// rank[col] the index of that number in colNumbers[col].\n")
	b.WriteString("var syscallTable = [...]sysEntry{\n")
	for _, name := range sorted {
		fmt.Fprintf(&b, "\t{%q, [numColumns]int32{", name)
		for i := range columns {
			if i > 0 {
				b.WriteString(", ")
			}
			if n, ok := tables[i][name]; ok {
				fmt.Fprintf(&b, "%#x", n)
			} else {
				b.WriteString("-1")
			}
		}
		b.WriteString("}, [numColumns]int16{")
		for i := range columns {
			if i > 0 {
				b.WriteString(", ")
			}
			if n, ok := tables[i][name]; ok {
				fmt.Fprintf(&b, "%d", rank[i][n])
			} else {
				b.WriteString("-1")
			}
		}
		b.WriteString("}},\n")
	}
	b.WriteString("}\n\n")

	b.WriteString("// colNumbers lists the distinct syscall numbers of each column, ascending.\n")
	b.WriteString("var colNumbers = [numColumns][]uint32{\n")
	for i, c := range columns {
		fmt.Fprintf(&b, "\t%s: {", c.constName)
		for j, n := range colNumbers[i] {
			if j%12 == 0 {
				b.WriteString("\n\t\t")
			} else {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%#x,", n)
		}
		b.WriteString("\n\t},\n")
	}
	b.WriteString("}\n\n")

	fmt.Fprintf(&b, "// nameIndex is an open-addressing hash table over syscallTable: slot\n")
	fmt.Fprintf(&b, "// fnv1a(name)%%%d, probing forward, holds a row index + 1 (0: empty).\n", nameIndexSize)
	fmt.Fprintf(&b, "var nameIndex = [%d]uint16{", nameIndexSize)
	for j, v := range index {
		if j%16 == 0 {
			b.WriteString("\n\t")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%d,", v)
	}
	b.WriteString("\n}\n")
	src, err := format.Source(b.Bytes())
	if err != nil {
		log.Fatalf("format: %v", err)
	}
	if err := os.WriteFile("ztables.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
