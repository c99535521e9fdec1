package volume

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// Filters are the --filter arguments of docker volume ls and docker volume
// prune, as the Engine API carries them: each key maps to the values given for
// it. A volume matches when it matches every key given.
//
// List takes:
//
//	name=NAME        the name equals NAME or contains a match of the regular
//	                 expression NAME (any value may match)
//	driver=local     the driver is one of the values
//	label=KEY, label=KEY=VALUE
//	                 the volume has every label given (with that value)
//	label!=KEY, label!=KEY=VALUE
//	                 the volume lacks at least one of the labels given
//	dangling=true|false|1|0
//	                 no container references it (true), or some does (false)
//
// Prune takes label, label! and all=true|false: without all=true only
// anonymous volumes are pruned (Docker 23 and later).
type Filters map[string][]string

var (
	listFilters  = []string{"dangling", "driver", "label", "label!", "name"}
	pruneFilters = []string{"all", "label", "label!"}
)

// selector is Filters compiled for matching.
type selector struct {
	nameSet   bool
	names     []string
	nameRes   []*regexp.Regexp
	drivers   []string
	labels    []string
	notLabels []string
	dangling  *bool
}

// compile checks that every key is among accepted and builds the selector,
// with Docker's messages for what it refuses.
func (f Filters) compile(accepted []string) (selector, error) {
	var s selector
	for k := range f {
		if !slices.Contains(accepted, k) {
			return s, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	if vs, ok := f["name"]; ok {
		s.nameSet = true
		s.names = vs
		for _, v := range vs {
			// Docker skips a value that is no regular expression (it may
			// still match exactly).
			if re, err := regexp.Compile(v); err == nil {
				s.nameRes = append(s.nameRes, re)
			}
		}
	}
	s.drivers = f["driver"]
	s.labels = f["label"]
	s.notLabels = f["label!"]
	if vs, ok := f["dangling"]; ok {
		isTrue := slices.Contains(vs, "true") || slices.Contains(vs, "1")
		isFalse := slices.Contains(vs, "false") || slices.Contains(vs, "0")
		if isTrue == isFalse {
			return s, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=%s'", strings.Join(vs, ",")))
		}
		s.dangling = &isTrue
	}
	return s, nil
}

// pruneAll reads prune's all filter: whether named volumes are pruned too.
func (f Filters) pruneAll() (bool, error) {
	vs := f["all"]
	switch len(vs) {
	case 0:
		return false, nil
	case 1:
		all, err := strconv.ParseBool(vs[0])
		if err != nil {
			return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'all': %v", err))
		}
		return all, nil
	}
	return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'all=%s': only one value is expected", vs))
}

func (s selector) match(v Volume) bool {
	if s.nameSet && !slices.Contains(s.names, v.Name) &&
		!slices.ContainsFunc(s.nameRes, func(re *regexp.Regexp) bool { return re.MatchString(v.Name) }) {
		return false
	}
	if len(s.drivers) > 0 && !slices.Contains(s.drivers, v.Driver) {
		return false
	}
	if len(s.labels) > 0 && !hasAllLabels(v.Labels, s.labels) {
		return false
	}
	if len(s.notLabels) > 0 && hasAllLabels(v.Labels, s.notLabels) {
		return false
	}
	if s.dangling != nil && *s.dangling != (len(v.Refs) == 0) {
		return false
	}
	return true
}

// hasAllLabels reports whether labels has every one of want ("key" or
// "key=value").
func hasAllLabels(labels map[string]string, want []string) bool {
	if len(labels) == 0 {
		return false
	}
	for _, w := range want {
		k, val, withValue := strings.Cut(w, "=")
		got, ok := labels[k]
		if !ok || withValue && got != val {
			return false
		}
	}
	return true
}
