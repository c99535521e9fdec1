// Package logattrs computes the extra attributes a container's log options attach
// to every log message (labels, labels-regex, env, env-regex, tag), and renders
// them as `docker logs --details` prints them.
//
// It lives apart from package logs because it needs regexp and text/template,
// which the shim (linked into berth-runtime) must not carry: berthd computes the
// attributes and hands them to the shim, which passes them to logs.OpenWriter.
package logattrs

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/containerd/errdefs"
)

// Container is what the options can refer to.
type Container struct {
	ID         string // full id
	Name       string // with or without Docker's leading "/"
	ImageID    string // "sha256:..." or bare hex
	ImageName  string // as the user gave it
	DaemonName string // "berth"
	Entrypoint string
	Args       []string
	Labels     map[string]string
	Env        []string // KEY=value
}

// Attrs returns the attributes the options ask for, as Docker computes them:
// labels=a,b and env=A,B pick listed labels and variables that are set,
// labels-regex and env-regex those whose names match, tag= renders a template
// over the container ({{.ID}} {{.FullID}} {{.Name}} {{.ImageID}}
// {{.ImageFullID}} {{.ImageName}} {{.DaemonName}} {{.Command}} {{.Hostname}})
// into "tag". An empty result is nil.
func Attrs(opts map[string]string, c Container) (map[string]string, error) {
	extra := map[string]string{}
	if s := opts["labels"]; s != "" {
		for _, l := range strings.Split(s, ",") {
			if v, ok := c.Labels[l]; ok {
				extra[l] = v
			}
		}
	}
	if s := opts["labels-regex"]; s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		for k, v := range c.Labels {
			if re.MatchString(k) {
				extra[k] = v
			}
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if k, v, ok := strings.Cut(e, "="); ok {
			env[k] = v
		}
	}
	if s := opts["env"]; s != "" {
		for _, l := range strings.Split(s, ",") {
			if v, ok := env[l]; ok {
				extra[l] = v
			}
		}
	}
	if s := opts["env-regex"]; s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		for k, v := range env {
			if re.MatchString(k) {
				extra[k] = v
			}
		}
	}
	if s := opts["tag"]; s != "" {
		tag, err := renderTag(s, c)
		if err != nil {
			return nil, err
		}
		if tag != "" {
			extra["tag"] = tag
		}
	}
	if len(extra) == 0 {
		return nil, nil
	}
	return extra, nil
}

// tagInfo gives the tag template Docker's names.
type tagInfo struct{ c Container }

func (t tagInfo) ID() string          { return truncate(t.c.ID) }
func (t tagInfo) FullID() string      { return t.c.ID }
func (t tagInfo) Name() string        { return strings.TrimPrefix(t.c.Name, "/") }
func (t tagInfo) ImageID() string     { return truncate(strings.TrimPrefix(t.c.ImageID, "sha256:")) }
func (t tagInfo) ImageFullID() string { return t.c.ImageID }
func (t tagInfo) ImageName() string   { return t.c.ImageName }
func (t tagInfo) DaemonName() string  { return t.c.DaemonName }
func (t tagInfo) Command() string {
	return strings.Join(append([]string{t.c.Entrypoint}, t.c.Args...), " ")
}
func (t tagInfo) Hostname() (string, error) { return os.Hostname() }

func truncate(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

var tagFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"split": strings.Split,
	"join":  strings.Join,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
}

func renderTag(s string, c Container) (string, error) {
	tmpl, err := template.New("log-tag").Funcs(tagFuncs).Parse(s)
	if err != nil {
		return "", errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, tagInfo{c}); err != nil {
		return "", errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return b.String(), nil
}

// Details renders attrs as `docker logs --details` prefixes each line (before a
// space): key=value pairs sorted by key, query-escaped, joined by commas.
func Details(attrs map[string]string) []byte {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, url.QueryEscape(k)...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(attrs[k])...)
	}
	return b
}
