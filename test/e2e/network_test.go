package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort is a TCP (and, most likely, UDP) port nothing on the host listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// hostAddr is one of the host's own non-loopback IPv4 addresses, outside the test
// daemon's networks ("" when it has none).
func hostAddr(t *testing.T, d *daemon) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !strings.HasPrefix(n.IP.String(), "10.") {
			return n.IP.String()
		}
	}
	return ""
}

// httpGet fetches url from the host, retrying while the server comes up.
func httpGet(url string) (string, error) {
	client := http.Client{Timeout: 2 * time.Second}
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(url)
		if err != nil {
			last = err
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("%s: %s", url, resp.Status)
		}
		return string(b), err
	}
	return "", last
}

// nftElements counts the elements of a map of the daemon's nftables table.
func nftElements(t *testing.T, d *daemon, set string) int {
	t.Helper()
	out, err := exec.Command("nft", "list", "map", "inet", d.FirewallTable, set).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list map %s: %v: %s", set, err, out)
	}
	s := string(out)
	i := strings.Index(s, "elements = {")
	if i < 0 {
		return 0
	}
	body := s[i+len("elements = {"):]
	body = body[:strings.Index(body, "}")]
	return strings.Count(body, " : ") // "tcp . 8080 : fd00::2 . 80"
}

// unreachable says whether a wget that must fail failed as a network failure. It
// runs as sh -c "timeout 3 wget ...; exit $?": busybox's wget -T crashes, so timeout
// ends a silent connection, and neither may be pid 1 (the kernel ignores a SIGTERM to
// a pid 1 that has no handler for it; the "exit" keeps sh from exec'ing timeout). A
// crash is the test's fault, not a pass.
func unreachable(t *testing.T, code int, what string) bool {
	t.Helper()
	if code == 139 {
		t.Fatalf("%s: wget crashed", what)
	}
	return code != 0
}

// boundedWget is a shell command fetching url that gives up after 3 s (see unreachable).
func boundedWget(url string) string { return "timeout 3 wget -q -O - " + url + "; exit $?" }

func TestPublishedPorts(t *testing.T) {
	d := withImage(t)
	port := freePort(t)
	d.mustDocker("run", "-d", "--name", "web", "-p", strconv.Itoa(port)+":80", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "web"))
	for _, host := range []string{"127.0.0.1", hostAddr(t, d)} {
		if host == "" {
			continue
		}
		body, err := httpGet(fmt.Sprintf("http://%s:%d/hostname", host, port))
		if err != nil || strings.TrimSpace(body) != id[:12] {
			t.Errorf("GET http://%s:%d/hostname = %q, %v; want the container's host name %s", host, port, body, err, id[:12])
		}
	}
	if out := d.mustDocker("port", "web"); out != fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n", port) {
		t.Errorf("docker port = %q", out)
	}
	if out := d.mustDocker("ps", "--format", "{{.Ports}}", "--filter", "name=web"); out != fmt.Sprintf("0.0.0.0:%d->80/tcp\n", port) {
		t.Errorf("ps PORTS = %q", out)
	}
	ip := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"))
	// From another container: directly, and through the host's published port (hairpin).
	gw := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}", "web"))
	out := d.mustDocker("run", "--rm", "bbox", "sh", "-c", fmt.Sprintf("wget -q -O - http://%s/hostname && wget -q -O - http://%s:%d/hostname", ip, gw, port))
	if out != id[:12]+"\n"+id[:12]+"\n" {
		t.Errorf("from another container: %q", out)
	}

	// A port taken is refused as Docker refuses it, and nothing of the container runs.
	_, stderr, code := d.docker("run", "-d", "--name", "clash", "-p", strconv.Itoa(port)+":80", "bbox", "sleep", "60")
	if code == 0 || !strings.Contains(stderr, fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated", port)) {
		t.Errorf("second -p %d: exit %d, %q", port, code, stderr)
	}
	if st := d.mustDocker("inspect", "-f", "{{.State.Running}}", "clash"); st != "false\n" {
		t.Errorf("the refused container runs: %q", st)
	}

	// UDP.
	udp := freePort(t)
	d.mustDocker("run", "-d", "--name", "echo", "-p", strconv.Itoa(udp)+":5000/udp", "bbox", "/testinit", "udp-echo", "5000")
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udp))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := ""
	for i := 0; i < 50 && got == ""; i++ {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		buf := make([]byte, 16)
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
		}
	}
	if got != "ping" {
		t.Errorf("UDP echo through -p %d:5000/udp answered %q", udp, got)
	}

	// Removing the container withdraws the port.
	d.mustDocker("rm", "-f", "web", "echo", "clash")
	if n := nftElements(t, d, "ports_v4"); n != 0 {
		t.Errorf("%d published ports left in the firewall after the containers went", n)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		conn.Close()
		t.Errorf("port %d still answers after the container was removed", port)
	}
}

func TestUserNetworksNamesAndIsolation(t *testing.T) {
	d := withImage(t)
	d.mustDocker("network", "create", "front")
	// network ls's name filter is a regular expression, as Docker's.
	for filter, want := range map[string]string{"name=^fr": "front", "name=^front$": "front", "name=ront": "front", "name=^ront": ""} {
		if got := strings.TrimSpace(d.mustDocker("network", "ls", "--filter", filter, "--format", "{{.Name}}")); got != want {
			t.Errorf("network ls --filter %s: %q, want %q", filter, got, want)
		}
	}
	d.mustDocker("run", "-d", "--name", "web", "--network", "front", "--network-alias", "www", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "web"))
	for _, name := range []string{"web", "www", id[:12]} {
		out, stderr, code := d.docker("run", "--rm", "--network", "front", "bbox", "wget", "-q", "-O", "-", "http://"+name+"/hostname")
		if code != 0 || out != id[:12]+"\n" {
			t.Errorf("wget http://%s/ from the same network: exit %d, %q %q", name, code, out, stderr)
		}
	}
	if out := d.mustDocker("run", "--rm", "--network", "front", "bbox", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 127.0.0.11") {
		t.Errorf("resolv.conf on a user network: %q", out)
	}
	// The default bridge does not resolve names.
	if _, _, code := d.docker("run", "--rm", "bbox", "sh", "-c", boundedWget("http://web/")); !unreachable(t, code, "web by name from the default bridge") {
		t.Error("a container on the default bridge reached web by name")
	}
	// network inspect lists the container; rm is refused while it is attached.
	if out := d.mustDocker("network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "front"); out != "web\n" {
		t.Errorf("network inspect containers = %q", out)
	}
	if _, stderr, code := d.docker("network", "rm", "front"); code == 0 || !strings.Contains(stderr, "has active endpoints") {
		t.Errorf("network rm of a network in use: exit %d, %q", code, stderr)
	}
	// connect: a running container on the default bridge joins and finds web.
	d.mustDocker("run", "-d", "--name", "later", "bbox", "sleep", "60")
	d.mustDocker("network", "connect", "front", "later")
	if out, stderr, code := d.docker("exec", "later", "wget", "-q", "-O", "-", "http://web/hostname"); code != 0 || out != id[:12]+"\n" {
		t.Errorf("after network connect: exit %d, %q %q", code, out, stderr)
	}
	d.mustDocker("network", "disconnect", "front", "later")
	if _, _, code := d.docker("exec", "later", "sh", "-c", boundedWget("http://web/hostname")); !unreachable(t, code, "web after disconnect") {
		t.Error("after network disconnect the container still reaches web")
	}

	// Two networks are isolated from each other.
	d.mustDocker("network", "create", "back")
	webIP := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"))
	if _, _, code := d.docker("run", "--rm", "--network", "back", "bbox", "sh", "-c", boundedWget("http://"+webIP+"/hostname")); !unreachable(t, code, "web from another network") {
		t.Error("a container on another network reached web's address")
	}

	// --internal: peers yes, the outside (the host's own address) no.
	d.mustDocker("network", "create", "--internal", "closed")
	port := freePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "host\n") }))
	if h := hostAddr(t, d); h != "" {
		// Reachable from the default bridge, not from the internal network.
		if out, stderr, code := d.docker("run", "--rm", "bbox", "sh", "-c", boundedWget(fmt.Sprintf("http://%s:%d/", h, port))); code != 0 || out != "host\n" {
			t.Errorf("the host from the default bridge: exit %d, %q %q", code, out, stderr)
		}
		if _, _, code := d.docker("run", "--rm", "--network", "closed", "bbox", "sh", "-c", boundedWget(fmt.Sprintf("http://%s:%d/", h, port))); !unreachable(t, code, "the host from an internal network") {
			t.Error("a container on an --internal network reached the host's address")
		}
	}
	d.mustDocker("run", "-d", "--name", "inside", "--network", "closed", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	if out, stderr, code := d.docker("run", "--rm", "--network", "closed", "bbox", "wget", "-q", "-O", "-", "http://inside/hostname"); code != 0 || out == "" {
		t.Errorf("a peer on the internal network: exit %d, %q %q", code, out, stderr)
	}

	// --network container:X shares X's network.
	if out := d.mustDocker("run", "--rm", "--network", "container:web", "bbox", "wget", "-q", "-O", "-", "http://127.0.0.1/hostname"); out != id[:12]+"\n" {
		t.Errorf("--network container:web: %q", out)
	}
	d.mustDocker("rm", "-f", "web", "later", "inside")
	d.mustDocker("network", "rm", "front", "back", "closed")
}

func TestNetworkBadInput(t *testing.T) {
	d := withImage(t)
	d.mustDocker("network", "create", "--subnet", "10.77.5.0/24", "one")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", "--subnet", "10.77.5.128/25", "two"}, "overlaps"},
		{[]string{"network", "create", "one"}, "network with name one already exists"},
		{[]string{"run", "--rm", "--network", "nosuch", "bbox", "true"}, "network nosuch not found"},
		{[]string{"run", "--rm", "--network", "one", "--ip", "10.99.0.5", "bbox", "true"}, "10.99.0.5"},
		{[]string{"run", "--rm", "-p", "99999:80", "bbox", "true"}, "invalid"},
		{[]string{"network", "rm", "bridge"}, "pre-defined network"},
		{[]string{"run", "--rm", "--ip", "10.1.2.3", "bbox", "true"}, "user specified IP address is supported on user defined networks only"},
	}
	for _, c := range cases {
		_, stderr, code := d.docker(c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("docker %s: exit %d, stderr %q; want an error naming %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	if out := d.mustDocker("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "two") {
		t.Errorf("a refused network was made: %q", out)
	}
	if out := d.mustDocker("ps", "-aq"); out != "" {
		t.Errorf("refused runs left containers: %q", out)
	}
	// A container refused at start holds no address: the next one gets one.
	d.mustDocker("network", "rm", "one")
}

func TestPublishedPortsSurviveDaemonKill(t *testing.T) {
	d := withImage(t)
	port := freePort(t)
	d.mustDocker("run", "-d", "--name", "web", "-p", strconv.Itoa(port)+":80", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err != nil {
		t.Fatal(err)
	}
	// And names on a user network, served by berthd's DNS server.
	d.mustDocker("network", "create", "kept")
	d.mustDocker("run", "-d", "--name", "named", "--network", "kept", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	d.mustDocker("run", "-d", "--name", "asker", "--network", "kept", "bbox", "sleep", "300")
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.wait()
	// The container keeps answering while berthd is away, and after it is back.
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err != nil {
		t.Errorf("with berthd killed: %v", err)
	}
	d.start()
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err != nil {
		t.Errorf("after berthd restarted: %v", err)
	}
	if n := nftElements(t, d, "ports_v4"); n != 1 {
		t.Errorf("%d published-port elements after the restart, want exactly 1", n)
	}
	if out := d.mustDocker("port", "web"); out != fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n", port) {
		t.Errorf("docker port after the restart = %q", out)
	}
	named := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "named"))[:12]
	if out, stderr, code := d.docker("exec", "asker", "wget", "-q", "-O", "-", "http://named/hostname"); code != 0 || out != named+"\n" {
		t.Errorf("a name on a user network after the restart: exit %d, %q %q", code, out, stderr)
	}
	d.mustDocker("rm", "-f", "web", "named", "asker")
	d.mustDocker("network", "rm", "kept")
}

func TestContainerNetworkOptions(t *testing.T) {
	d := withImage(t)
	out := d.mustDocker("run", "--rm", "--dns", "10.1.2.3", "--dns-search", "example.org", "--dns-option", "ndots:2",
		"--add-host", "gw:host-gateway", "--add-host", "db:10.9.9.9", "-h", "myhost", "bbox",
		"sh", "-c", "cat /etc/resolv.conf /etc/hosts; ip -4 route | grep default")
	gw := strings.Split(d.BIP, "/")[0]
	for _, want := range []string{"nameserver 10.1.2.3\n", "search example.org\n", "options ndots:2\n", gw + "\tgw\n", "10.9.9.9\tdb\n", "\tmyhost\n", "default via " + gw} {
		if !strings.Contains(out, want) {
			t.Errorf("--dns/--dns-search/--dns-option/--add-host/-h: %q lacks %q", out, want)
		}
	}
	d.mustDocker("network", "create", "--subnet", "10.77.8.0/24", "fixed")
	out = d.mustDocker("run", "--rm", "--network", "fixed", "--ip", "10.77.8.50", "--mac-address", "02:42:aa:bb:cc:dd", "bbox",
		"sh", "-c", "ip -4 addr show eth0; cat /sys/class/net/eth0/address /etc/resolv.conf")
	for _, want := range []string{"inet 10.77.8.50/24", "02:42:aa:bb:cc:dd\n", "nameserver 127.0.0.11\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--ip/--mac-address on a user network: %q lacks %q", out, want)
		}
	}
	// The address is free again once that container is gone: a second one gets it.
	out = d.mustDocker("run", "--rm", "--network", "fixed", "--ip", "10.77.8.50", "bbox", "ip", "-4", "addr", "show", "eth0")
	if !strings.Contains(out, "inet 10.77.8.50/24") {
		t.Errorf("the address after its first holder went: %q", out)
	}
	d.mustDocker("network", "rm", "fixed")
}

func TestLegacyLinks(t *testing.T) {
	d := withImage(t)
	d.mustDocker("run", "-d", "--name", "web", "--expose", "80", "-e", "SECRET=s3", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	ip := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"))
	out := d.mustDocker("run", "--rm", "--name", "client", "--link", "web:db", "bbox", "sh", "-c", "env | grep ^DB_ | sort; grep db /etc/hosts; wget -q -O - http://db/hostname")
	for _, want := range []string{
		"DB_ENV_SECRET=s3\n", "DB_NAME=/client/db\n", "DB_PORT=tcp://" + ip + ":80\n",
		"DB_PORT_80_TCP_ADDR=" + ip + "\n", "DB_PORT_80_TCP_PORT=80\n", "DB_PORT_80_TCP_PROTO=tcp\n",
		ip + "\tdb ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--link web:db: %q lacks %q", out, want)
		}
	}
	// ps --no-trunc names a linked container by its links too; rm --link drops
	// one link only.
	d.mustDocker("run", "-d", "--name", "app", "--link", "web:db", "bbox", "sleep", "60")
	if names := d.mustDocker("ps", "--no-trunc", "--filter", "name=web", "--format", "{{.Names}}"); !strings.Contains(names, "app/db") {
		t.Errorf("ps names of a linked container: %q, want app/db among them", names)
	}
	d.mustDocker("rm", "--link", "/app/db")
	if names := d.mustDocker("ps", "-a", "--no-trunc", "--format", "{{.Names}}"); strings.Contains(names, "app/db") || !strings.Contains(names, "app\n") || !strings.Contains(names, "web") {
		t.Errorf("after rm --link /app/db: ps names %q", names)
	}
	if _, stderr, code := d.docker("rm", "--link", "/app/db"); code == 0 || !strings.Contains(stderr, "No such container: app/db") {
		t.Errorf("rm --link of a link that is gone: exit %d, %q", code, stderr)
	}
	if _, stderr, code := d.docker("rm", "--link", "web"); code == 0 || !strings.Contains(stderr, "cannot remove the default link name") {
		t.Errorf("rm --link of a container's own name: exit %d, %q", code, stderr)
	}
	d.mustDocker("rm", "-f", "app")

	d.mustDocker("stop", "-t", "0", "web")
	if _, stderr, code := d.docker("run", "--rm", "--link", "web:db", "bbox", "true"); code == 0 || !strings.Contains(stderr, "cannot link to a non running container") {
		t.Errorf("a link to a stopped container: exit %d, %q", code, stderr)
	}
	d.mustDocker("rm", "web")
}

func TestICCOff(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start("--icc=false")
	d.mustDocker("import", "--change", `CMD ["sh"]`, rootfsTar(t), "bbox")
	port := freePort(t)
	d.mustDocker("run", "-d", "--name", "web", "-p", strconv.Itoa(port)+":80", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	ip := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web"))
	if _, _, code := d.docker("run", "--rm", "bbox", "sh", "-c", boundedWget("http://"+ip+"/hostname")); !unreachable(t, code, "a neighbour with icc=false") {
		t.Error("with --icc=false a container reached its neighbour on the default bridge")
	}
	// Published ports still answer, from the host.
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err != nil {
		t.Errorf("a published port with --icc=false: %v", err)
	}
	d.mustDocker("rm", "-f", "web")
}

func TestDualStackUserNetwork(t *testing.T) {
	d := withImage(t)
	d.mustDocker("network", "create", "--ipv6", "--subnet", "fd00:77:1::/64", "dual")
	d.mustDocker("run", "-d", "--name", "w6", "--network", "dual", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	addrs := strings.Fields(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.GlobalIPv6Address}}{{end}}", "w6"))
	if len(addrs) != 2 || !strings.HasPrefix(addrs[1], "fd00:77:1::") {
		t.Fatalf("addresses on a dual-stack network: %q", addrs)
	}
	id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "w6"))[:12]
	out, stderr, code := d.docker("run", "--rm", "--network", "dual", "bbox", "sh", "-c", "wget -q -O - http://["+addrs[1]+"]/hostname && nslookup w6 127.0.0.11")
	if code != 0 || !strings.HasPrefix(out, id+"\n") || !strings.Contains(out, addrs[1]) {
		t.Errorf("over IPv6 and by name: exit %d, %q %q", code, out, stderr)
	}
	d.mustDocker("rm", "-f", "w6")
	d.mustDocker("network", "rm", "dual")
}

func TestDefaultBridgeIPv6(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start("--ipv6", "--fixed-cidr-v6", fmt.Sprintf("fd00:%x:%x::/64", mathrand.IntN(0xffff), mathrand.IntN(0xffff)))
	d.mustDocker("import", "--change", `CMD ["sh"]`, rootfsTar(t), "bbox")
	d.mustDocker("run", "-d", "--name", "w6", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	a := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}", "w6"))
	if !strings.HasPrefix(a, "fd00:") {
		t.Fatalf("IPv6 address on the default bridge: %q", a)
	}
	id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "w6"))[:12]
	if out, stderr, code := d.docker("run", "--rm", "bbox", "wget", "-q", "-O", "-", "http://["+a+"]/hostname"); code != 0 || out != id+"\n" {
		t.Errorf("a neighbour over IPv6: exit %d, %q %q", code, out, stderr)
	}
	if out := d.mustDocker("network", "inspect", "-f", "{{.EnableIPv6}}", "bridge"); out != "true\n" {
		t.Errorf("network inspect bridge EnableIPv6 = %q", out)
	}
	d.mustDocker("rm", "-f", "w6")
}

// berth's extension (moby#21282): the published ports of a running container change
// with update, without a restart.
func TestUpdatePublishedPortsOfARunningContainer(t *testing.T) {
	d := withImage(t)
	p1, p2 := freePort(t), freePort(t)
	d.mustDocker("run", "-d", "--name", "web", "-p", strconv.Itoa(p1)+":80", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	started := d.mustDocker("inspect", "-f", "{{.State.StartedAt}}", "web")
	d.mustBerth("update", "--publish-add", strconv.Itoa(p2)+":80", "--publish-rm", strconv.Itoa(p1)+":80", "web")
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", p2)); err != nil {
		t.Errorf("the added port: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p1), time.Second); err == nil {
		conn.Close()
		t.Errorf("the removed port %d still answers", p1)
	}
	if out := d.mustDocker("port", "web"); out != fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n", p2) {
		t.Errorf("docker port after the update = %q", out)
	}
	if again := d.mustDocker("inspect", "-f", "{{.State.StartedAt}}", "web"); again != started {
		t.Errorf("the container restarted: %q, then %q", started, again)
	}
	// A port another container holds is refused, and the container keeps its ports.
	d.mustDocker("run", "-d", "--name", "other", "-p", strconv.Itoa(p1)+":80", "bbox", "sleep", "60")
	if _, stderr, code := d.berth("update", "--publish-add", strconv.Itoa(p1)+":81", "web"); code == 0 || !strings.Contains(stderr, "port is already allocated") {
		t.Errorf("publishing a port in use: exit %d, %q", code, stderr)
	}
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", p2)); err != nil {
		t.Errorf("after a refused update the container lost its port: %v", err)
	}
	d.mustDocker("rm", "-f", "web", "other")
}

// A published port answers another machine: a network namespace made here, linked to
// the host by a veth pair of its own, plays it.
func TestPublishedPortFromAnotherHost(t *testing.T) {
	d := withImage(t)
	tag := strconv.Itoa(mathrand.IntN(1 << 20))
	ns, hostIf, peerIf := "berth-test-ext-"+tag, "bxh"+tag, "bxp"+tag
	sub := fmt.Sprintf("10.%d.%d", 250+mathrand.IntN(5), mathrand.IntN(256))
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("link", "add", hostIf, "type", "veth", "peer", "name", peerIf)
	t.Cleanup(func() { exec.Command("ip", "link", "del", hostIf).Run() })
	run("link", "set", peerIf, "netns", ns)
	run("addr", "add", sub+".1/30", "dev", hostIf)
	run("link", "set", hostIf, "up")
	run("-n", ns, "addr", "add", sub+".2/30", "dev", peerIf)
	run("-n", ns, "link", "set", peerIf, "up")
	run("-n", ns, "link", "set", "lo", "up")

	port := freePort(t)
	d.mustDocker("run", "-d", "--name", "web", "-p", strconv.Itoa(port)+":80", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	id := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "web"))[:12]
	var out []byte
	var err error
	for i := 0; i < 50; i++ {
		out, err = exec.Command("ip", "netns", "exec", ns, "curl", "-s", "-m", "2", fmt.Sprintf("http://%s.1:%d/hostname", sub, port)).Output()
		if err == nil && strings.TrimSpace(string(out)) == id {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.TrimSpace(string(out)) != id {
		t.Errorf("from another host: %q, %v; want %s", out, err, id)
	}

	// Outbound NAT: a container reaches that host, which has no route back to the
	// containers' subnet, so only masquerading brings the answer home.
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("outside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := exec.Command("ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", sub+".2:8000", "-h", www)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	var got string
	for i := 0; i < 50 && got != "outside\n"; i++ {
		got, _, _ = d.docker("run", "--rm", "bbox", "sh", "-c", boundedWget("http://"+sub+".2:8000/"))
	}
	if got != "outside\n" {
		t.Errorf("a container to another host (outbound NAT): %q", got)
	}
	d.mustDocker("rm", "-f", "web")
}

func TestPublishAllExposedPorts(t *testing.T) {
	d := withImage(t)
	d.mustDocker("run", "-d", "--name", "web", "-P", "--expose", "80", "bbox", "httpd", "-f", "-p", "80", "-h", "/etc")
	out := strings.TrimSpace(d.mustDocker("port", "web", "80/tcp"))
	_, port, ok := strings.Cut(out, "0.0.0.0:")
	if !ok {
		t.Fatalf("docker port web 80/tcp = %q", out)
	}
	if _, err := httpGet("http://127.0.0.1:" + port + "/hostname"); err != nil {
		t.Errorf("-P published 80 on %s, which does not answer: %v", port, err)
	}
	d.mustDocker("rm", "-f", "web")
}

// docker-compose (1.29, Debian's, on docker-py) drives berthd: the project network,
// service names, published ports, and down removing all of it.
func TestComposeProject(t *testing.T) {
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Skip("needs docker-compose (scripts/install-deps.sh installs it)")
	}
	d := withImage(t)
	port := freePort(t)
	dir := t.TempDir()
	yml := fmt.Sprintf(`version: "3"
services:
  web:
    image: bbox
    command: httpd -f -p 80 -h /etc
    ports:
      - "%d:80"
  client:
    image: bbox
    command: sh -c "until wget -q -O - http://web/hostname; do sleep 0.2; done; sleep 300"
    depends_on: [web]
`, port)
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(compose, append([]string{"-p", "berthe2e"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("up", "-d")
	down := false
	t.Cleanup(func() {
		if !down {
			run("down", "-t", "0")
		}
	})
	web := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", "berthe2e_web_1"))[:12]
	if msg := eventually(15*time.Second, func() string {
		if logs := d.mustDocker("logs", "berthe2e_client_1"); !strings.Contains(logs, web) {
			return "client's log: " + logs
		}
		return ""
	}); msg != "" {
		t.Errorf("client never reached web by its service name: %s", msg)
	}
	if body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/hostname", port)); err != nil || strings.TrimSpace(body) != web {
		t.Errorf("the published port: %q, %v", body, err)
	}
	run("down", "-t", "0") // the programs are pid 1 without a SIGTERM handler: no waiting for them
	down = true
	if out := d.mustDocker("ps", "-aq"); out != "" {
		t.Errorf("containers left after down: %q", out)
	}
	if out := d.mustDocker("network", "ls", "--format", "{{.Name}}"); strings.Contains(out, "berthe2e") {
		t.Errorf("the project network is left after down: %q", out)
	}
}

// On a dual-stack network a published port answers over IPv6 too, translated in the
// kernel to the container's IPv6 address, as Docker's with ip6tables: -p 8080:80
// publishes on 0.0.0.0 and [::], -p [::]:8080:80 on IPv6 only, -p [ADDR]:8080:80 on
// that address; [::1] cannot be forwarded (no route_localnet in IPv6) and is refused
// in one line.
func TestPublishedPortsOverIPv6(t *testing.T) {
	d := withImage(t)
	sub := fmt.Sprintf("fd00:%x:%x::/64", mathrand.IntN(0xffff), mathrand.IntN(0xffff))
	d.mustDocker("network", "create", "--ipv6", "--subnet", sub, "dual")
	httpd := []string{"bbox", "httpd", "-f", "-p", "80", "-h", "/etc"}
	run := func(name, publish string) (id string, port int) {
		t.Helper()
		port = freePort(t)
		d.mustDocker(append([]string{"run", "-d", "--name", name, "--network", "dual", "-p", fmt.Sprintf(publish, port)}, httpd...)...)
		return strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.Id}}", name))[:12], port
	}
	// The host reaches the network's IPv6 gateway, an address of its own.
	gw6 := strings.TrimSpace(d.mustDocker("network", "inspect", "-f", `{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}`, "dual"))
	if f := strings.Fields(gw6); len(f) == 2 {
		gw6 = f[1]
	}
	if !strings.Contains(gw6, ":") {
		t.Fatalf("the network's IPv6 gateway: %q", gw6)
	}
	answers := func(host string, port int, want string) {
		t.Helper()
		url := fmt.Sprintf("http://%s/hostname", net.JoinHostPort(host, strconv.Itoa(port)))
		if body, err := httpGet(url); err != nil || strings.TrimSpace(body) != want {
			t.Errorf("GET %s = %q, %v; want %s", url, body, err, want)
		}
	}
	silent := func(host string, port int) {
		t.Helper()
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("%s:%d answers; it was not published there", host, port)
		}
	}

	// -p PORT:80: both families, the same host port.
	both, p1 := run("both", "%d:80")
	answers(gw6, p1, both)
	answers("127.0.0.1", p1, both)
	if out := d.mustDocker("port", "both"); out != fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n80/tcp -> [::]:%d\n", p1, p1) {
		t.Errorf("docker port both = %q", out)
	}
	if out := d.mustDocker("ps", "--format", "{{.Ports}}", "--filter", "name=both"); out != fmt.Sprintf("0.0.0.0:%d->80/tcp, [::]:%d->80/tcp\n", p1, p1) {
		t.Errorf("ps PORTS = %q", out)
	}

	// -p [::]:PORT:80: IPv6 only.
	v6, p2 := run("v6", "[::]:%d:80")
	answers(gw6, p2, v6)
	silent("127.0.0.1", p2)
	if out := d.mustDocker("port", "v6"); out != fmt.Sprintf("80/tcp -> [::]:%d\n", p2) {
		t.Errorf("docker port v6 = %q", out)
	}

	// -p [ADDR]:PORT:80: that address only. 2001:db8::1 is no address of this host:
	// the port is recorded and programmed, and answers nowhere else.
	one, p3 := run("one", "["+gw6+"]:%d:80")
	answers(gw6, p3, one)
	silent("127.0.0.1", p3)
	_, p4 := run("doc", "[2001:db8::1]:%d:80")
	if out := d.mustDocker("port", "doc"); out != fmt.Sprintf("80/tcp -> [2001:db8::1]:%d\n", p4) {
		t.Errorf("docker port doc = %q", out)
	}
	silent(gw6, p4)
	if n := nftElements(t, d, "ports_v6"); n != 2 {
		t.Errorf("%d elements in ports_v6, want 2 (both and v6)", n)
	}
	if n := nftElements(t, d, "ports_v6_addr"); n != 2 {
		t.Errorf("%d elements in ports_v6_addr, want 2 (one and doc)", n)
	}

	// [::1] cannot work without a proxy process: refused at create, in one line.
	_, stderr, code := d.docker(append([]string{"run", "-d", "--name", "lo6", "--network", "dual", "-p", "[::1]:8080:80"}, httpd...)...)
	first, _, _ := strings.Cut(stderr, "\n")
	if code == 0 || !strings.Contains(first, "cannot publish [::1]:8080:80/tcp: Linux cannot forward the IPv6 loopback address to a container") || !strings.HasSuffix(first, "or 127.0.0.1") {
		t.Errorf("-p [::1]:8080:80: exit %d, %q", code, stderr)
	}
	if out := d.mustDocker("ps", "-aq", "--filter", "name=lo6"); out != "" {
		t.Errorf("a refused -p [::1] left a container: %q", out)
	}
	// [::] on a network without IPv6: no address to send it to.
	_, stderr, code = d.docker(append([]string{"run", "-d", "--name", "nov6", "-p", "[::]:8080:80"}, httpd...)...)
	if code == 0 || !strings.Contains(stderr, "the container has no IPv6 address") {
		t.Errorf("-p [::]:8080:80 on an IPv4 network: exit %d, %q", code, stderr)
	}

	d.mustDocker("rm", "-f", "both", "v6", "one", "doc", "nov6")
	for _, m := range []string{"ports_v4", "ports_v6", "ports_v6_addr"} {
		if n := nftElements(t, d, m); n != 0 {
			t.Errorf("%d elements left in %s after the containers went", n, m)
		}
	}
	silent(gw6, p1)
	d.mustDocker("network", "rm", "dual")
}

// What docker-py 5.0.3's network tests found berth doing unlike dockerd 20.10: a
// network named "test 01" (Docker takes any non-blank name), an IPv6 subnet without
// --ipv6 (recorded, unused; --ip6 on it is only echoed), legacy links on a user
// network (the alias resolves, through the embedded DNS server, for the container
// holding the link only, even when the linked container starts later), and IPAM
// options shown as sent (null when none were).
func TestNetworkDockerCompat(t *testing.T) {
	d := withImage(t)

	d.mustDocker("network", "create", "test 01")
	d.mustDocker("run", "-d", "--name", "sp", "--network", "test 01", "bbox", "sleep", "60")
	if out, stderr, code := d.docker("exec", "sp", "nslookup", "sp"); code != 0 || !strings.Contains(out, "Name:\tsp") {
		t.Errorf("a name on the network \"test 01\": exit %d, %q %q", code, out, stderr)
	}
	if out := d.mustDocker("network", "inspect", "-f", "{{.Name}}", "test 01"); out != "test 01\n" {
		t.Errorf("network inspect \"test 01\": %q", out)
	}
	d.mustDocker("rm", "-f", "sp")
	d.mustDocker("network", "rm", "test 01")
	if _, stderr, code := d.docker("network", "create", " "); code == 0 || !strings.Contains(stderr, "invalid name") {
		t.Errorf("a blank network name: exit %d, %q", code, stderr)
	}

	d.mustDocker("network", "create", "--subnet", "2001:389::1/64", "v6off")
	if out := d.mustDocker("network", "inspect", "-f", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}", "v6off"); !strings.HasPrefix(out, "false ") || !strings.Contains(out, " 2001:389::") {
		t.Errorf("a network with an IPv6 subnet and no --ipv6: %q", out)
	}
	d.mustDocker("run", "-d", "--name", "v6", "--network", "v6off", "--ip6", "2001:389::f00d", "bbox", "sleep", "60")
	if out := d.mustDocker("inspect", "-f", `{{with index .NetworkSettings.Networks "v6off"}}{{.IPAMConfig.IPv6Address}}|{{.GlobalIPv6Address}}{{end}}`, "v6"); out != "2001:389::f00d|\n" {
		t.Errorf("--ip6 on a network without IPv6: %q, want the address echoed and none given", out)
	}
	d.mustDocker("rm", "-f", "v6")
	d.mustDocker("network", "rm", "v6off")

	d.mustDocker("network", "create", "lnk")
	d.mustDocker("run", "-d", "--name", "c2", "--network", "lnk", "--link", "up1:bar", "bbox", "sleep", "60")
	d.mustDocker("run", "-d", "--name", "up1", "--network", "lnk", "bbox", "sleep", "60")
	d.mustDocker("run", "-d", "--name", "c3", "bbox", "sleep", "60")
	d.mustDocker("network", "connect", "--link", "up1:baz", "lnk", "c3")
	ip := strings.TrimSpace(d.mustDocker("inspect", "-f", `{{with index .NetworkSettings.Networks "lnk"}}{{.IPAddress}}{{end}}`, "up1"))
	for _, c := range []struct{ container, name string }{{"c2", "bar"}, {"c2", "bar.lnk"}, {"c3", "baz"}} {
		if out, stderr, code := d.docker("exec", c.container, "nslookup", c.name); code != 0 || !strings.Contains(out, "Address: "+ip) {
			t.Errorf("%s: nslookup %s: exit %d, %q %q; want %s", c.container, c.name, code, out, stderr, ip)
		}
	}
	if out, _, code := d.docker("exec", "c3", "nslookup", "bar"); code == 0 && strings.Contains(out, ip) {
		t.Errorf("c3 resolved c2's link alias bar: %q", out)
	}
	if out := d.mustDocker("inspect", "-f", `{{with index .NetworkSettings.Networks "lnk"}}{{.Links}}{{end}}`, "c3"); out != "[up1:baz]\n" {
		t.Errorf("c3's links on lnk: %q", out)
	}
	d.mustDocker("rm", "-f", "c2", "c3", "up1")
	d.mustDocker("network", "rm", "lnk")

	for _, c := range []struct{ body, want string }{
		{`{"Name":"noopts"}`, `null`},
		{`{"Name":"emptyopts","IPAM":{"Options":{}}}`, `{}`},
		{`{"Name":"opts","IPAM":{"Options":{"foo":"bar"}}}`, `{"foo":"bar"}`},
	} {
		resp, err := d.client().Post("http://berth/v1.41/networks/create", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var created struct{ Id string }
		err = json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %d %v", c.body, resp.StatusCode, err)
		}
		if resp, err = d.client().Get("http://berth/v1.41/networks/" + created.Id); err != nil {
			t.Fatal(err)
		}
		var got struct {
			IPAM struct{ Options json.RawMessage }
		}
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || string(got.IPAM.Options) != c.want {
			t.Errorf("network created with %s: IPAM.Options %s (%v), want %s", c.body, got.IPAM.Options, err, c.want)
		}
		d.mustDocker("network", "rm", created.Id)
	}
}
