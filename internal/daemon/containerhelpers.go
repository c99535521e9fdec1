package daemon

import (
	"encoding/json"
	"sort"
	"strings"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/logs/logattrs"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func sortStrings(s []string) { sort.Strings(s) }

// logAttrs are the attributes a log driver records with each line (--log-opt
// labels, env, tag), as Docker computes them.
func logAttrs(s *ctr.Container) (map[string]string, error) {
	return logattrs.Attrs(s.HostConfig.LogConfig.Config, logattrs.Container{
		ID: s.ID, Name: s.Name, ImageID: s.Image.String(), ImageName: s.ImageRef, DaemonName: "berth",
		Entrypoint: s.Path, Args: s.Args, Labels: s.Config.Labels, Env: s.Config.Env,
	})
}
