// Package buildinfo says which build of berth is running: what the build stamped
// (-X flags), completed from the binary itself where it stamped nothing.
package buildinfo

import (
	"os"
	"runtime/debug"
	"time"
)

// Info identifies a build.
type Info struct {
	Version   string
	GitCommit string
	BuildTime string // RFC 3339
}

// Complete fills what the build did not stamp: the commit Go recorded in the
// binary, and the executable's modification time.
func (i Info) Complete() Info {
	if i.GitCommit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 7 {
					i.GitCommit = s.Value[:7]
				}
			}
		}
	}
	if i.BuildTime == "" {
		if exe, err := os.Executable(); err == nil {
			if st, err := os.Stat(exe); err == nil {
				i.BuildTime = st.ModTime().UTC().Format(time.RFC3339)
			}
		}
	}
	return i
}
