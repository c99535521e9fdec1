package events

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
)

// Filter selects events as `docker events --filter key=value` does: each key
// maps to the values given for it. An event matches when it matches every key
// given; a key matches when any of its values does, except label, where every
// value must. The keys:
//
//	type=image              the event's type
//	event=pull              its action ("exec_create" also matches "exec_create: sh")
//	scope=local             local or swarm
//	label=k or label=k=v    an attribute of the actor (container labels, for instance)
//	image=busybox           the image's ID or name, or a container event's image,
//	                        with or without the tag
//	container=, volume=, network=, plugin=, daemon=, service=, secret=, config=, node=
//	                        a prefix of the actor's ID or of its "name" attribute
//
// The nil Filter matches every event.
type Filter map[string][]string

// nameKeys are the keys matched against the actor's ID or name.
var nameKeys = []string{"config", "container", "daemon", "network", "node", "plugin", "secret", "service", "volume"}

// Validate reports a key that is not a filter, as an invalid-argument error with
// Docker's message.
func (f Filter) Validate() error {
	for k := range f {
		switch {
		case k == "type", k == "event", k == "scope", k == "label", k == "image", slices.Contains(nameKeys, k):
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	return nil
}

// Match reports whether m passes the filter.
func (f Filter) Match(m events.Message) bool {
	if vs, ok := f["type"]; ok && !slices.Contains(vs, string(m.Type)) {
		return false
	}
	if vs, ok := f["scope"]; ok && !slices.Contains(vs, m.Scope) {
		return false
	}
	if vs, ok := f["event"]; ok {
		action, _, _ := strings.Cut(string(m.Action), ":")
		if !slices.Contains(vs, string(m.Action)) && !slices.Contains(vs, action) {
			return false
		}
	}
	for _, l := range f["label"] {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := m.Actor.Attributes[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	if vs, ok := f["image"]; ok && !matchImage(vs, m) {
		return false
	}
	for _, k := range nameKeys {
		vs, ok := f[k]
		if !ok {
			continue
		}
		if !anyPrefix(vs, m.Actor.ID) && !anyPrefix(vs, m.Actor.Attributes["name"]) {
			return false
		}
	}
	return true
}

// matchImage matches an image event by the image's ID or name, and any other
// event by the "image" attribute (a container's image), with or without tag.
func matchImage(vs []string, m events.Message) bool {
	name := m.Actor.Attributes["image"]
	if m.Type == events.ImageEventType {
		name = m.Actor.Attributes["name"]
	}
	for _, s := range []string{m.Actor.ID, name, stripTag(m.Actor.ID), stripTag(name)} {
		if s != "" && slices.Contains(vs, s) {
			return true
		}
	}
	return false
}

// stripTag removes a ":tag" from a reference ("busybox:1.36" -> "busybox") but
// not a registry's port ("host:5000/busybox" stays) nor an image ID ("sha256:...").
func stripTag(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') && !strings.Contains(ref, "@") {
		return ref[:i]
	}
	return ref
}

func anyPrefix(prefixes []string, s string) bool {
	if s == "" {
		return false
	}
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
