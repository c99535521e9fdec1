// Package change applies Docker's --change instructions to an image
// configuration, as `docker import --change` and `docker commit --change` do.
//
// An instruction is a Dockerfile line limited to the ones that only edit the
// configuration:
//
//	CMD ["sh", "-c", "echo hi"]   CMD echo hi          (shell form: /bin/sh -c "echo hi")
//	ENTRYPOINT ["/app"]           ENTRYPOINT /app      (shell form likewise)
//	ENV A=1 B="two words"         ENV A 1              (legacy form: one variable)
//	EXPOSE 80 443/tcp 53/udp      WORKDIR /srv         USER app:app
//	LABEL a=b "c d"=e             VOLUME ["/data"]     VOLUME /data /cache
//	STOPSIGNAL SIGTERM
//
// The keyword is case-insensitive. JSON arrays are recognised by their leading
// '['; anything that is not a valid JSON array of strings is the shell form.
// Any other instruction is refused (errdefs.ErrInvalidArgument), naming it as
// Docker does.
package change

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Apply edits cfg by each of changes, in order.
func Apply(cfg *ocispec.ImageConfig, changes []string) error {
	for _, c := range changes {
		if err := applyOne(cfg, c); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(cfg *ocispec.ImageConfig, line string) error {
	line = strings.TrimSpace(line)
	if line == "" {
		return nil
	}
	kw, rest := splitFirst(line)
	switch strings.ToUpper(kw) {
	case "CMD":
		cfg.Cmd = command(rest)
	case "ENTRYPOINT":
		cfg.Entrypoint = command(rest)
	case "ENV":
		kvs, err := pairs(rest, true)
		if err != nil {
			return invalid(line, err)
		}
		for _, kv := range kvs {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
		}
	case "LABEL":
		kvs, err := pairs(rest, false)
		if err != nil {
			return invalid(line, err)
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "EXPOSE":
		ports, err := words(rest)
		if err != nil {
			return invalid(line, err)
		}
		if len(ports) == 0 {
			return invalid(line, fmt.Errorf("EXPOSE requires at least one argument"))
		}
		for _, p := range ports {
			p, err := port(p)
			if err != nil {
				return invalid(line, err)
			}
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = map[string]struct{}{}
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
	case "VOLUME":
		vols, ok := jsonArray(rest)
		if !ok {
			var err error
			if vols, err = words(rest); err != nil {
				return invalid(line, err)
			}
		}
		if len(vols) == 0 {
			return invalid(line, fmt.Errorf("VOLUME requires at least one argument"))
		}
		for _, v := range vols {
			if v == "" {
				return invalid(line, fmt.Errorf("VOLUME specified can not be an empty string"))
			}
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
		}
	case "WORKDIR":
		w := unquote(rest)
		if w == "" {
			return invalid(line, fmt.Errorf("WORKDIR requires exactly one argument"))
		}
		if !path.IsAbs(w) {
			w = path.Join("/", cfg.WorkingDir, w)
		}
		cfg.WorkingDir = w
	case "USER":
		u := unquote(rest)
		if u == "" {
			return invalid(line, fmt.Errorf("USER requires exactly one argument"))
		}
		cfg.User = u
	case "STOPSIGNAL":
		s := unquote(rest)
		if s == "" || strings.ContainsAny(s, " \t") {
			return invalid(line, fmt.Errorf("STOPSIGNAL requires exactly one argument"))
		}
		cfg.StopSignal = s
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s is not a valid change command", kw))
	}
	return nil
}

func invalid(line string, err error) error {
	return fmt.Errorf("change %q: %w: %w", line, err, errdefs.ErrInvalidArgument)
}

// command reads the exec (JSON) or shell form of CMD and ENTRYPOINT.
func command(s string) []string {
	if args, ok := jsonArray(s); ok {
		return args
	}
	if s == "" {
		return nil
	}
	return []string{"/bin/sh", "-c", s}
}

// jsonArray parses s as a JSON array of strings.
func jsonArray(s string) ([]string, bool) {
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	var a []string
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, false
	}
	return a, true
}

// words splits s at unquoted blanks, removing quotes and backslash escapes.
func words(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if escaped {
		cur.WriteRune('\\')
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func unquote(s string) string {
	w, err := words(s)
	if err != nil || len(w) != 1 {
		return strings.TrimSpace(s)
	}
	return w[0]
}

// pairs reads "k=v k2=v2" or, when legacy is allowed and the first word has
// no '=', the old form "k the value".
func pairs(s string, legacy bool) ([][2]string, error) {
	ws, err := words(s)
	if err != nil {
		return nil, err
	}
	if len(ws) == 0 {
		return nil, fmt.Errorf("requires at least one argument")
	}
	if legacy && !strings.Contains(ws[0], "=") {
		k, v := splitFirst(s)
		return [][2]string{{k, v}}, nil
	}
	var out [][2]string
	for _, w := range ws {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not of the form key=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitFirst splits s at its first blank into a word and the trimmed rest.
func splitFirst(s string) (string, string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i+1:])
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// port normalises "80", "80/TCP", "53/udp" to "80/tcp", "53/udp".
func port(p string) (string, error) {
	num, proto, ok := strings.Cut(p, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return "", fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	for _, n := range []string{lo, hi} {
		if !isRange && n == hi {
			continue
		}
		var v int
		if _, err := fmt.Sscanf(n, "%d", &v); err != nil || v < 1 || v > 65535 || fmt.Sprint(v) != n {
			return "", fmt.Errorf("invalid containerPort: %s", num)
		}
	}
	return num + "/" + proto, nil
}
