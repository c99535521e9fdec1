package cli

import (
	"net/http"
	"strings"
	"testing"
)

const (
	netID  = "7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99"
	netID2 = "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566"
)

func TestNetworkCreate(t *testing.T) {
	d := newFakeDaemon(t)
	create := d.reply("POST /networks/create", http.StatusCreated, map[string]any{"Id": netID, "Warning": ""})
	r := runAt(t, d, "network", "create", "-d", "bridge", "--subnet", "10.9.0.0/24", "--subnet", "fd00:9::/64",
		"--gateway", "10.9.0.1", "--ip-range", "10.9.0.128/25", "--aux-address", "router=10.9.0.2",
		"--internal", "--ipv6", "--attachable", "--label", "tier=front", "--label", "bare", "-o", "com.docker.network.bridge.name=br-front", "front")
	if r.code != 0 || r.stdout != netID+"\n" || r.stderr != "" {
		t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The subnets in the order given, each with what falls in it; EnableIPv4
	// left to the daemon since --ipv4 was not given.
	want := `{"Attachable":true,"ConfigFrom":null,"ConfigOnly":false,"Driver":"bridge","EnableIPv6":true,` +
		`"IPAM":{"Config":[{"AuxiliaryAddresses":{"router":"10.9.0.2"},"Gateway":"10.9.0.1","IPRange":"10.9.0.128/25","Subnet":"10.9.0.0/24"},{"Subnet":"fd00:9::/64"}],"Driver":"default","Options":null},` +
		`"Ingress":false,"Internal":true,"Labels":{"bare":"","tier":"front"},"Name":"front","Options":{"com.docker.network.bridge.name":"br-front"},"Scope":""}`
	if got := jsonOf(create.body(t)); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}

	// The defaults: a bridge network, IPAM with no pool (the daemon picks one).
	if r := runAt(t, d, "network", "create", "--ipv4=false", "plain"); r.code != 0 {
		t.Fatalf("plain: exit %d %q", r.code, r.stderr)
	}
	b := create.body(t)
	if b["Driver"] != "bridge" || b["EnableIPv4"] != false || b["EnableIPv6"] != nil || jsonOf(b["IPAM"]) != `{"Config":[],"Driver":"default","Options":null}` {
		t.Errorf("plain body %s", jsonOf(b))
	}

	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--gateway", "10.0.0.1", "x"}, 1, "every ip-range or gateway must have a corresponding subnet\n"},
		{[]string{"--subnet", "10.0.0.0/16", "--subnet", "10.0.5.0/24", "x"}, 1, "multiple overlapping subnet configuration is not supported\n"},
		{[]string{"--subnet", "10.0.0.0/24", "--gateway", "10.1.0.1", "x"}, 1, "no matching subnet for gateway 10.1.0.1\n"},
		{[]string{"--subnet", "10.0.0.0/24", "--ip-range", "10.1.0.0/25", "x"}, 1, "no matching subnet for range 10.1.0.0/25\n"},
		{[]string{"--subnet", "10.0.0.0/24", "--subnet", "10.2.0.0/24", "--ip-range", "10.0.0.0/25", "--ip-range", "10.0.0.128/25", "x"}, 1,
			"cannot configure multiple ranges (10.0.0.128/25, 10.0.0.0/25) on the same subnet (10.0.0.0/24)\n"},
		{[]string{"--subnet", "10.0.0.0/24", "--aux-address", "a=10.5.0.1", "x"}, 1, "no matching subnet for aux-address 10.5.0.1\n"},
		{[]string{"--subnet", "10.0.0/24", "x"}, 1, "invalid subnet 10.0.0/24: not an address in CIDR notation (e.g. 10.1.0.0/24)\n"},
		{[]string{"--gateway", "nope", "x"}, 125, `invalid argument "nope" for "--gateway" flag: invalid string being converted to IP address: nope`},
		{[]string{"a", "b"}, 1, "berth: 'berth network create' requires 1 argument"},
	} {
		r := runAt(t, d, append([]string{"network", "create"}, c.args...)...)
		if r.code != c.code || !strings.HasPrefix(r.stderr, c.stderr) {
			t.Errorf("network create %s: exit %d %q, want %d %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.stderr)
		}
	}
	if n := create.count(); n != 2 {
		t.Errorf("%d create requests, want 2 (the bad command lines send none)", n)
	}
}

func TestNetworkCreateDaemonError(t *testing.T) {
	d := newFakeDaemon(t)
	d.reply("POST /networks/create", http.StatusConflict, apiError("network with name taken already exists"))
	if r := runAt(t, d, "network", "create", "taken"); r.code != 1 || r.stdout != "" || r.stderr != "Error response from daemon: network with name taken already exists\n" {
		t.Errorf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestNetworkList(t *testing.T) {
	d := newFakeDaemon(t)
	list := d.reply("GET /networks", http.StatusOK, []map[string]any{
		{"Name": "web10", "Id": netID, "Driver": "bridge", "Scope": "local", "EnableIPv4": true, "Internal": true,
			"Created": "2026-11-20T10:00:00Z", "Labels": map[string]string{"tier": "front", "app": "shop"}},
		{"Name": "bridge", "Id": netID2, "Driver": "bridge", "Scope": "local", "EnableIPv4": true, "EnableIPv6": true,
			"Created": "2026-11-20T09:00:00Z", "Labels": map[string]string{}},
		{"Name": "web9", "Id": "0a0b0c0d0e0f00112233", "Driver": "null", "Scope": "local", "Created": "0001-01-01T00:00:00Z"},
	})
	for _, c := range []struct {
		args  []string
		out   string
		query string
	}{
		// As docker: names in natural order, IDs cut to 12.
		{[]string{"network", "ls"}, "NETWORK ID     NAME      DRIVER    SCOPE\n" +
			"f2de39df4171   bridge    bridge    local\n0a0b0c0d0e0f   web9      null      local\n7d86d31b1478   web10     bridge    local\n", ""},
		{[]string{"network", "list", "-q", "-f", "driver=bridge", "--filter", "label=tier"}, netID2[:12] + "\n0a0b0c0d0e0f\n" + netID[:12] + "\n",
			`filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%2C%22label%22%3A%7B%22tier%22%3Atrue%7D%7D`},
		{[]string{"network", "ls", "-q", "--no-trunc"}, netID2 + "\n0a0b0c0d0e0f00112233\n" + netID + "\n", ""},
		{[]string{"network", "ls", "--format", "{{.Name}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label \"tier\"}}"},
			"bridge true true false  \nweb9 false false false  \nweb10 true false true app=shop,tier=front front\n", ""},
		// A template of the user's wins over -q.
		{[]string{"network", "ls", "-q", "--format", "table {{.Name}}\t{{.CreatedAt}}"},
			"NAME      CREATED AT\nbridge    2026-11-20 09:00:00 +0000 UTC\nweb9      0001-01-01 00:00:00 +0000 UTC\nweb10     2026-11-20 10:00:00 +0000 UTC\n", ""},
		{[]string{"network", "ls", "--format", "raw", "-f", "name=web9"}, "network_id: f2de39df4171\nname: bridge\ndriver: bridge\nscope: local\n\n" +
			"network_id: 0a0b0c0d0e0f\nname: web9\ndriver: null\nscope: local\n\nnetwork_id: 7d86d31b1478\nname: web10\ndriver: bridge\nscope: local\n\n",
			`filters=%7B%22name%22%3A%7B%22web9%22%3Atrue%7D%7D`},
	} {
		r := runAt(t, d, c.args...)
		if r.code != 0 || r.stdout != c.out {
			t.Errorf("berth %s: exit %d %q\n%q\nwant\n%q", strings.Join(c.args, " "), r.code, r.stderr, r.stdout, c.out)
		}
		if q := list.query(t).Encode(); q != c.query {
			t.Errorf("berth %s: query %q, want %q", strings.Join(c.args, " "), q, c.query)
		}
	}
	r := runAt(t, d, "network", "ls", "--format", "json", "-f", "name=web10")
	want := `{"CreatedAt":"2026-11-20 10:00:00 +0000 UTC","Driver":"bridge","ID":"7d86d31b1478","IPv4":"true","IPv6":"false","Internal":"true","Labels":"app=shop,tier=front","Name":"web10","Scope":"local"}`
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 || lines[2] != want {
		t.Errorf("json: exit %d %q\n%s", r.code, r.stderr, r.stdout)
	}
	if r := runAt(t, d, "network", "ls", "--format", "{{.Nope"); r.code != 1 || !strings.HasPrefix(r.stderr, "template parsing error:") {
		t.Errorf("bad template: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "network", "ls", "-f", "nofilter"); r.code != 125 || !strings.Contains(r.stderr, "bad format of filter (expected name=value)") {
		t.Errorf("bad filter: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "network", "ls", "extra"); r.code != 1 || !strings.HasPrefix(r.stderr, "berth: 'berth network ls' accepts no arguments") {
		t.Errorf("argument: exit %d %q", r.code, r.stderr)
	}
}

func TestNetworkInspect(t *testing.T) {
	d := newFakeDaemon(t)
	front := d.reply("GET /networks/front", http.StatusOK, map[string]any{
		"Name": "front", "Id": netID, "Driver": "bridge", "Scope": "local",
		"IPAM":       map[string]any{"Driver": "default", "Config": []map[string]string{{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}}},
		"Containers": map[string]any{ctrID: map[string]string{"Name": "web", "IPv4Address": "10.9.0.2/24"}},
	})
	d.reply("GET /networks/nosuch", http.StatusNotFound, apiError("network nosuch not found"))
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"network", "inspect", "-f", "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} via {{.Gateway}}{{end}} {{range .Containers}}{{.Name}}={{.IPv4Address}}{{end}}", "front"},
			0, "front 10.9.0.0/24 via 10.9.0.1 web=10.9.0.2/24\n", ""},
		// A template naming the JSON's own spelling (.Id) renders from the JSON.
		{[]string{"network", "inspect", "--format", "{{.Id}}", "front"}, 0, netID + "\n", ""},
		{[]string{"network", "inspect", "-f", "{{.Name}}", "front", "nosuch", "front"}, 1, "front\nfront\n",
			"Error response from daemon: network nosuch not found\n"},
	} {
		r := runAt(t, d, c.args...)
		if r.code != c.code || r.stdout != c.stdout || r.stderr != c.stderr {
			t.Errorf("berth %s: exit %d %q %q", strings.Join(c.args, " "), r.code, r.stdout, r.stderr)
		}
	}
	if q := front.query(t).Encode(); q != "" {
		t.Errorf("query without -v: %q", q)
	}
	r := runAt(t, d, "network", "inspect", "-v", "front")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "[\n    {\n") || !strings.Contains(r.stdout, "\n        \"Name\": \"front\",\n") || !strings.HasSuffix(r.stdout, "    }\n]\n") {
		t.Errorf("-v: exit %d %q\n%s", r.code, r.stderr, r.stdout)
	}
	if q := front.query(t).Encode(); q != "verbose=true" {
		t.Errorf("query with -v: %q", q)
	}
	if r := runAt(t, d, "network", "inspect"); r.code != 1 || !strings.HasPrefix(r.stderr, "berth: 'berth network inspect' requires at least 1 argument") {
		t.Errorf("no name: exit %d %q", r.code, r.stderr)
	}
}

func TestNetworkRemove(t *testing.T) {
	d := newFakeDaemon(t)
	d.reply("DELETE /networks/front", http.StatusNoContent, nil)
	d.reply("DELETE /networks/back", http.StatusNoContent, nil)
	d.reply("DELETE /networks/nosuch", http.StatusNotFound, apiError("network nosuch not found"))
	d.reply("DELETE /networks/bridge", http.StatusForbidden, apiError("bridge is a pre-defined network and cannot be removed"))
	// Each name in turn; every failure on stderr, the others still removed.
	r := runAt(t, d, "network", "rm", "front", "nosuch", "bridge", "back")
	if r.code != 1 || r.stdout != "front\nback\n" ||
		r.stderr != "Error response from daemon: network nosuch not found\nError response from daemon: bridge is a pre-defined network and cannot be removed\nexit status 1\n" {
		t.Errorf("rm: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	want := []string{"DELETE /networks/front", "DELETE /networks/nosuch", "DELETE /networks/bridge", "DELETE /networks/back"}
	if got := d.calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests %q", got)
	}
	// -f: a missing network is no error, other failures still are.
	if r := runAt(t, d, "network", "remove", "-f", "nosuch", "front"); r.code != 0 || r.stdout != "front\n" || r.stderr != "" {
		t.Errorf("rm -f: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runAt(t, d, "network", "rm", "-f", "bridge"); r.code != 1 || r.stderr != "Error response from daemon: bridge is a pre-defined network and cannot be removed\nexit status 1\n" {
		t.Errorf("rm -f bridge: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestNetworkConnectAndDisconnect(t *testing.T) {
	d := newFakeDaemon(t)
	connect := d.reply("POST /networks/front/connect", http.StatusOK, nil)
	r := runAt(t, d, "network", "connect", "--ip", "10.9.0.7", "--ip6", "fd00:9::7", "--alias", "db,database", "--alias", "pg",
		"--link", "cache:redis", "--driver-opt", "com.example.mtu=1400", "front", "web")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("connect: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	want := `{"Container":"web","EndpointConfig":{"Aliases":["db","database","pg"],"DNSNames":null,"DriverOpts":{"com.example.mtu":"1400"},` +
		`"EndpointID":"","Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"GwPriority":0,` +
		`"IPAMConfig":{"IPv4Address":"10.9.0.7","IPv6Address":"fd00:9::7"},"IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"",` +
		`"Links":["cache:redis"],"MacAddress":"","NetworkID":""}}`
	if got := jsonOf(connect.body(t)); got != want {
		t.Errorf("connect body\n got %s\nwant %s", got, want)
	}
	// Without flags: an empty IPAM configuration, as docker sends.
	if r := runAt(t, d, "network", "connect", "front", "web"); r.code != 0 {
		t.Fatalf("plain connect: exit %d %q", r.code, r.stderr)
	}
	if ep := connect.body(t)["EndpointConfig"].(map[string]any); jsonOf(ep["IPAMConfig"]) != "{}" || ep["Aliases"] != nil || ep["Links"] != nil {
		t.Errorf("plain connect endpoint %s", jsonOf(ep))
	}
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--ip", "10.9.0", "front", "web"}, 125, `invalid argument "10.9.0" for "--ip" flag: `},
		{[]string{"--link", "a:b:c", "front", "web"}, 125, `invalid argument "a:b:c" for "--link" flag: bad format for links: a:b:c`},
		{[]string{"--driver-opt", "novalue", "front", "web"}, 1, "invalid key/value pair format in driver options\n"},
		{[]string{"front"}, 1, "berth: 'berth network connect' requires 2 arguments"},
	} {
		r := runAt(t, d, append([]string{"network", "connect"}, c.args...)...)
		if r.code != c.code || !strings.HasPrefix(r.stderr, c.stderr) {
			t.Errorf("network connect %s: exit %d %q, want %d %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.stderr)
		}
	}
	if n := connect.count(); n != 2 {
		t.Errorf("%d connect requests, want 2", n)
	}
	d.reply("POST /networks/nosuch/connect", http.StatusNotFound, apiError("network nosuch not found"))
	if r := runAt(t, d, "network", "connect", "nosuch", "web"); r.code != 1 || r.stderr != "Error response from daemon: network nosuch not found\n" {
		t.Errorf("connect to a missing network: exit %d %q", r.code, r.stderr)
	}

	disconnect := d.reply("POST /networks/front/disconnect", http.StatusOK, nil)
	if r := runAt(t, d, "network", "disconnect", "-f", "front", "web"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("disconnect: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := jsonOf(disconnect.body(t)); got != `{"Container":"web","Force":true}` {
		t.Errorf("disconnect body %s", got)
	}
	if r := runAt(t, d, "network", "disconnect", "front", "web"); r.code != 0 || jsonOf(disconnect.body(t)) != `{"Container":"web","Force":false}` {
		t.Errorf("disconnect without -f: exit %d %q body %s", r.code, r.stderr, jsonOf(disconnect.body(t)))
	}
	d.reply("POST /networks/back/disconnect", http.StatusNotFound, apiError("No such container: ghost"))
	if r := runAt(t, d, "network", "disconnect", "back", "ghost"); r.code != 1 || r.stderr != "Error response from daemon: No such container: ghost\n" {
		t.Errorf("disconnect a missing container: exit %d %q", r.code, r.stderr)
	}
}

func TestNetworkPrune(t *testing.T) {
	d := newFakeDaemon(t)
	prune := d.reply("POST /networks/prune", http.StatusOK, map[string]any{"NetworksDeleted": []string{"front", "back"}})
	const question = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
	if r := runIn(t, d, "n\n", "network", "prune"); r.code != 1 || r.stdout != question || r.stderr != "network prune has been cancelled\n" || prune.count() != 0 {
		t.Errorf("cancelled: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := runIn(t, d, "y\n", "network", "prune", "--filter", "label=tmp", "--filter", "until=24h")
	if want := question + "Deleted Networks:\nfront\nback\n\n"; r.code != 0 || r.stdout != want {
		t.Errorf("prune: exit %d %q\n%q", r.code, r.stderr, r.stdout)
	}
	if f := filtersOf(t, d.lastRequest("/networks/prune")); !f["label"]["tmp"] || !f["until"]["24h"] || len(f) != 2 {
		t.Errorf("prune filters %v", f)
	}
	// Nothing to remove: nothing printed.
	d2 := newFakeDaemon(t)
	d2.reply("POST /networks/prune", http.StatusOK, map[string]any{"NetworksDeleted": nil})
	if r := runIn(t, d2, "", "network", "prune", "-f"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("prune -f of nothing: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}
