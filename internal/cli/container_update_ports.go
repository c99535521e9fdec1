package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// Published ports of a running container, changed by `update --publish-add` and
// `--publish-rm`: berth's extension of the update endpoint (a PortBindings field with
// the container's whole new set; moby#21282). The moby client cannot send it, so the
// request goes through the client's own connection to the daemon.

// newPortBindings is current with adds (-p syntax) bound and removes (a container
// port, 80 or 80/udp, dropping all its bindings; or a -p spec, dropping that one)
// taken away.
func newPortBindings(current network.PortMap, adds, removes []string) (network.PortMap, error) {
	out := network.PortMap{}
	for p, bs := range current {
		out[p] = slices.Clone(bs)
	}
	_, add, err := opts.ParsePorts(adds, nil)
	if err != nil {
		return nil, err
	}
	for p, bs := range add {
		out[p] = append(out[p], bs...)
	}
	for _, r := range removes {
		if !strings.Contains(r, ":") {
			p, err := network.ParsePort(r)
			if err != nil {
				return nil, fmt.Errorf("invalid port %q: %w", r, err)
			}
			if _, ok := out[p]; !ok {
				return nil, fmt.Errorf("port %s is not published", p)
			}
			delete(out, p)
			continue
		}
		_, drop, err := opts.ParsePorts([]string{r}, nil)
		if err != nil {
			return nil, err
		}
		for p, bs := range drop {
			kept := slices.DeleteFunc(out[p], func(b network.PortBinding) bool { return slices.Contains(bs, b) })
			if len(kept) == len(out[p]) {
				return nil, fmt.Errorf("%s is not published", r)
			}
			if len(kept) == 0 {
				delete(out, p)
			} else {
				out[p] = kept
			}
		}
	}
	return out, nil
}

// updatePorts replaces the published ports of container name.
func updatePorts(ctx context.Context, cl *client.Client, name string, adds, removes []string) error {
	insp, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	var current network.PortMap
	if insp.Container.HostConfig != nil {
		current = insp.Container.HostConfig.PortBindings
	}
	ports, err := newPortBindings(current, adds, removes)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"PortBindings": ports})
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return cl.Dialer()(ctx)
	}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://berthd/containers/"+url.PathEscape(name)+"/update", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var e struct{ Message string }
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(b))
	}
	return errors.New("Error response from daemon: " + e.Message)
}
