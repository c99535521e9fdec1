package opts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lookup reads a variable of the client's environment; found is false when it
// is not set.
type Lookup func(name string) (value string, found bool)

// EnvValidator checks one -e value: NAME=value as it is, or a bare NAME
// that takes the client's value of NAME when it has one (and is otherwise
// passed on bare, which the daemon drops), as docker does.
func EnvValidator(lookup Lookup) Validator {
	return func(v string) (string, error) {
		k, _, hasValue := strings.Cut(v, "=")
		if k == "" {
			return "", errors.New("invalid environment variable: " + v)
		}
		if hasValue || lookup == nil {
			return v, nil
		}
		if val, ok := lookup(k); ok {
			return k + "=" + val, nil
		}
		return v, nil
	}
}

// ValidateLabel checks a key[=value] label: the key must be non-empty and
// hold no white space.
func ValidateLabel(v string) (string, error) {
	key, _, _ := strings.Cut(v, "=")
	key = strings.TrimLeft(key, " \t")
	if key == "" {
		return "", fmt.Errorf("invalid label '%s': empty name", v)
	}
	if strings.ContainsAny(key, " \t") {
		return "", fmt.Errorf("label '%s' contains whitespaces", key)
	}
	return v, nil
}

// ReadKVFile reads an --env-file or --label-file: one NAME=value per line,
// blank lines and lines starting with # skipped, a bare NAME taking the
// client's value when lookup has one (and dropped otherwise).
func ReadKVFile(path string, lookup Lookup) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lines, err := parseKVLines(f, lookup)
	if err != nil {
		return nil, fmt.Errorf("invalid env file (%s): %w", path, err)
	}
	return lines, nil
}

func parseKVLines(r io.Reader, lookup Lookup) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		b := sc.Bytes()
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("invalid utf8 bytes at line %d: %v", n, b)
		}
		if n == 1 {
			b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
		}
		line := strings.TrimLeftFunc(string(b), unicode.IsSpace)
		if line == "" || line[0] == '#' {
			continue
		}
		key, _, hasValue := strings.Cut(line, "=")
		if key == "" {
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		}
		if strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf("variable '%s' contains whitespaces", key)
		}
		if hasValue {
			out = append(out, line)
			continue
		}
		if lookup != nil {
			if v, ok := lookup(line); ok {
				out = append(out, key+"="+v)
			}
		}
	}
	return out, sc.Err()
}

// KVMap turns NAME=value strings into a map (a bare NAME maps to "").
func KVMap(values []string) map[string]string {
	m := make(map[string]string, len(values))
	for _, v := range values {
		k, val, _ := strings.Cut(v, "=")
		m[k] = val
	}
	return m
}

// ValidateSysctl accepts the namespaced sysctls docker allows: the IPC ones
// (kernel.msg*, kernel.sem, kernel.shm*) and those under net. and
// fs.mqueue.
func ValidateSysctl(v string) (string, error) {
	k, _, ok := strings.Cut(v, "=")
	if ok && k != "" {
		switch k {
		case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
			"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
			return v, nil
		}
		if strings.HasPrefix(k, "net.") || strings.HasPrefix(k, "fs.mqueue.") {
			return v, nil
		}
	}
	return "", fmt.Errorf("sysctl '%s' is not allowed", v)
}

// ValidateAttach accepts stdin, stdout or stderr in any case.
func ValidateAttach(v string) (string, error) {
	s := strings.ToLower(v)
	switch s {
	case "stdin", "stdout", "stderr":
		return s, nil
	}
	return v, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

// ValidateIPAddress accepts an IPv4 or IPv6 address.
func ValidateIPAddress(v string) (string, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("IP address is not correctly formatted: %s", v)
	}
	return a.String(), nil
}

// ValidateExtraHost checks an --add-host host:ip (or host=ip); the address
// may be the word host-gateway.
func ValidateExtraHost(v string) (string, error) {
	name, ip, ok := strings.Cut(v, "=")
	if !ok {
		name, ip, ok = strings.Cut(v, ":")
	}
	if !ok || name == "" {
		return "", fmt.Errorf("bad format for add-host: %q", v)
	}
	if ip == "host-gateway" {
		return name + ":" + ip, nil
	}
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if _, err := netip.ParseAddr(ip); err != nil {
		return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
	}
	return name + ":" + ip, nil
}

var deviceCgroupRule = regexp.MustCompile(`^[acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3}$`)

// ValidateDeviceCgroupRule checks a rule of the form "type major:minor mode".
func ValidateDeviceCgroupRule(v string) (string, error) {
	if deviceCgroupRule.MatchString(v) {
		return v, nil
	}
	return v, fmt.Errorf("invalid device cgroup format '%s'", v)
}
