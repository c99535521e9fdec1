package runtimecli_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nsOf returns the namespace identities of a process, by /proc name.
func nsOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range []string{"net", "ipc", "uts", "pid", "mnt"} {
		l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/" + n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = l
	}
	return out
}

func TestJoinNamespacesByPath(t *testing.T) {
	first := newHarness(t)
	first.createRunning()
	pid := first.state(first.id).Pid
	want := nsOf(t, pid)

	second := newHarness(t)
	second.edit(func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			switch ns.Type {
			case specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace:
				s.Linux.Namespaces[i].Path = "/proc/" + strconv.Itoa(pid) + "/ns/" + map[specs.LinuxNamespaceType]string{
					specs.NetworkNamespace: "net", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts"}[ns.Type]
			}
		}
		s.Hostname = "" // the UTS namespace is the first container's
	})
	second.edit(func(s *specs.Spec) { s.Process.Args = []string{"/testinit", "sleep", "60"} })
	second.ok("create", "--bundle", second.bundle, second.id)
	got := nsOf(t, second.state(second.id).Pid)
	for _, n := range []string{"net", "ipc", "uts"} {
		if got[n] != want[n] {
			t.Errorf("%s namespace %s, want the first container's %s", n, got[n], want[n])
		}
	}
	for _, n := range []string{"pid", "mnt"} {
		if got[n] == want[n] {
			t.Errorf("%s namespace shared with the first container, want a new one", n)
		}
	}
}

func TestTimeNamespaceOffsets(t *testing.T) {
	h := newHarness(t)
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("needs a kernel with time namespaces")
	}
	h.edit(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.TimeNamespace})
		s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 10 * 365 * 86400}}
	})
	out := h.runOK("/testinit", "cat", "/proc/uptime")
	up, err := strconv.ParseFloat(strings.Fields(out)[0], 64)
	if err != nil || up < 10*365*86400 {
		t.Errorf("uptime in a time namespace with a 10-year boottime offset: %q", out)
	}
}

func TestSysctlInTheContainersNamespace(t *testing.T) {
	h := newHarness(t)
	host, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	h.edit(func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{"net.ipv4.ip_unprivileged_port_start": "80"}
	})
	if got := h.runOK("/testinit", "sysctl", "net.ipv4.ip_unprivileged_port_start"); got != "80" {
		t.Errorf("sysctl in the container = %q, want 80", got)
	}
	if after, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); string(after) != string(host) {
		t.Errorf("the host's sysctl changed from %q to %q", host, after)
	}
}

func TestEveryHookKind(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	// Hooks that run inside the container (createContainer, startContainer) see the
	// host path only before pivot_root, so each hook writes where it can: host hooks to
	// dir, startContainer into the container's /tmp through the bind below.
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/busybox", Args: []string{"sh", "-c", `read s; echo "` + name + `" >> ` + dir + `/log`}}
	}
	h.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: dir, Type: "bind", Source: dir, Options: []string{"rbind", "rw"}})
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")},
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			StartContainer:  []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "read s; echo startContainer >> " + dir + "/log"}}},
			Poststart:       []specs.Hook{hook("poststart")},
			Poststop:        []specs.Hook{hook("poststop")},
		}
	})
	h.runOK("/testinit", "pid")
	b, err := os.ReadFile(dir + "/log")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(b))
	want := []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("hooks ran as %v, want %v", got, want)
	}
}

func TestErrorsGoToTheJSONLog(t *testing.T) {
	h := newHarness(t)
	log := t.TempDir() + "/runtime.log"
	r := h.runtime("--log", log, "--log-format", "json", "start", "nosuch")
	if r.code == 0 {
		t.Fatal("start of a missing container succeeded")
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var entry struct{ Level, Msg, Time string }
	if err := json.Unmarshal(b, &entry); err != nil || entry.Level != "error" || !strings.Contains(entry.Msg, "does not exist") || entry.Time == "" {
		t.Errorf("log entry %q (%v), want a JSON error line naming the problem", b, err)
	}
}

func TestJoinAUserNamespaceByPath(t *testing.T) {
	owner := newHarness(t)
	owner.edit(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	owner.createRunning()
	ownerPid := owner.state(owner.id).Pid
	userNS, _ := os.Readlink("/proc/" + strconv.Itoa(ownerPid) + "/ns/user")

	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{
			Type: specs.UserNamespace, Path: "/proc/" + strconv.Itoa(ownerPid) + "/ns/user"})
	})
	out := h.runOK("/testinit", "ns")
	if !strings.Contains(out, "user:"+strings.TrimPrefix(userNS, "user:")) {
		t.Errorf("not in the joined user namespace %s:\n%s", userNS, out)
	}
	if got := h.runOK("/testinit", "pid"); got != "1" {
		t.Errorf("pid in a new pid namespace inside the joined user namespace = %q, want 1", got)
	}
	if got := h.runOK("/testinit", "id"); !strings.HasPrefix(got, "uid=0 gid=0") {
		t.Errorf("id = %q, want root of the joined namespace", got)
	}
	h.edit(func(s *specs.Spec) {
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 1}}
	})
	h.fails("cannot be set when joining", "create", "--bundle", h.bundle, h.id)
}
