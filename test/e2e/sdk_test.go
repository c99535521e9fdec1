package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Docker's Python SDK (Debian's python3-docker, docker-py 5) against berthd: what a
// script built on it does most.
func TestPythonSDK(t *testing.T) {
	if err := exec.Command("python3", "-c", "import docker").Run(); err != nil {
		t.Skip("needs python3-docker (scripts/install-deps.sh installs it)")
	}
	d := withImage(t)
	script := `
import docker, sys
c = docker.from_env()
out = c.containers.run("bbox", "echo hi from docker-py", remove=True, log_config={"type": "json-file"})
print("run:", out.decode().strip())
net = c.networks.create("pynet")
w = c.containers.run("bbox", "httpd -f -p 80 -h /etc", detach=True, name="pyweb", network="pynet")
w.reload()
print("status:", w.status)
print("exec:", w.exec_run("echo from exec").output.decode().strip())
got = c.containers.run("bbox", "wget -q -O - http://pyweb/hostname", network="pynet", remove=True, log_config={"type": "json-file"})
print("by name:", got.decode().strip() == w.id[:12])
w.remove(force=True)
net.remove()
print("networks:", sorted(n.name for n in c.networks.list()))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-py: %v\n%s", err, out)
	}
	want := "run: hi from docker-py\nstatus: running\nexec: from exec\nby name: True\nnetworks: ['bridge', 'host', 'none']\n"
	if string(out) != want {
		t.Errorf("docker-py said\n%s\nwant\n%s", out, want)
	}
	if left := strings.TrimSpace(d.mustDocker("ps", "-aq")); left != "" {
		t.Errorf("containers left: %q", left)
	}
}
