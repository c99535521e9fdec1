package oci

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var imageWithEntrypoint = ocispec.ImageConfig{
	Entrypoint: []string{"/entry.sh"},
	Cmd:        []string{"serve", "--port", "80"},
	Env:        []string{"PATH=/opt/bin:/usr/bin:/bin", "LANG=C.UTF-8"},
	WorkingDir: "/srv",
	User:       "app",
}

func TestArgs(t *testing.T) {
	imageCmdOnly := ocispec.ImageConfig{Cmd: []string{"/bin/sh"}}
	for _, tc := range []struct {
		name            string
		img             ocispec.ImageConfig
		entrypoint, cmd []string
		want            []string
		wantErr         string
	}{
		{name: "image entrypoint and cmd", img: imageWithEntrypoint, want: []string{"/entry.sh", "serve", "--port", "80"}},
		{name: "user cmd follows the image entrypoint", img: imageWithEntrypoint, cmd: []string{"shell"}, want: []string{"/entry.sh", "shell"}},
		{name: "user entrypoint resets the image cmd", img: imageWithEntrypoint, entrypoint: []string{"/bin/ls"}, want: []string{"/bin/ls"}},
		{name: "user entrypoint and cmd", img: imageWithEntrypoint, entrypoint: []string{"/bin/ls"}, cmd: []string{"-l"}, want: []string{"/bin/ls", "-l"}},
		{name: "empty entrypoint runs the cmd alone", img: imageWithEntrypoint, entrypoint: []string{""}, cmd: []string{"id"}, want: []string{"id"}},
		{name: "empty entrypoint and no cmd", img: imageWithEntrypoint, entrypoint: []string{""}, wantErr: "no command specified"},
		{name: "image cmd only", img: imageCmdOnly, want: []string{"/bin/sh"}},
		{name: "user cmd replaces the image cmd", img: imageCmdOnly, cmd: []string{"echo", "hi"}, want: []string{"echo", "hi"}},
		{name: "nothing to run", wantErr: "no command specified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, func(in *Input) {
				img := tc.img
				in.Image = &img
				in.Config.Entrypoint, in.Config.Cmd = tc.entrypoint, tc.cmd
			})
			s, err := Spec(in)
			if tc.wantErr != "" {
				wantInvalid(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Process.Args, tc.want) {
				t.Errorf("args = %q, want %q", s.Process.Args, tc.want)
			}
		})
	}
}

func TestMergeImageTwiceIsStable(t *testing.T) {
	cfg := &container.Config{Cmd: []string{"x"}, Env: []string{"A=1"}, Labels: map[string]string{"l": "mine"}}
	img := &ocispec.ImageConfig{Entrypoint: []string{"/e"}, Env: []string{"A=2", "B=3"}, Labels: map[string]string{"l": "image", "m": "image"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}}}
	if err := MergeImage(cfg, img); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Env, []string{"A=1", "B=3"}) || cfg.Labels["l"] != "mine" || cfg.Labels["m"] != "image" || len(cfg.ExposedPorts) != 1 {
		t.Errorf("merged = %+v", cfg)
	}
	if !slices.Equal(args(cfg), []string{"/e", "x"}) {
		t.Errorf("args = %q", args(cfg))
	}
}

func TestEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Input)
		want []string
	}{
		{"defaults", nil, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "HOME=/root"}},
		{"terminal", func(in *Input) { in.Config.Tty = true },
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "TERM=xterm", "HOME=/root"}},
		{"image and user variables, user wins", func(in *Input) {
			in.Image = &imageWithEntrypoint
			in.Config.User = "root"
			in.Config.Env = []string{"LANG=fr_FR.UTF-8", "X=1"}
		}, []string{"PATH=/opt/bin:/usr/bin:/bin", "HOSTNAME=0123456789ab", "LANG=fr_FR.UTF-8", "X=1", "HOME=/root"}},
		{"hostname and home set by the user", func(in *Input) {
			in.Config.Hostname = "web"
			in.Config.Env = []string{"HOME=/data", "HOSTNAME=other"}
		}, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=other", "HOME=/data"}},
		{"later value wins, in the first place", func(in *Input) { in.Config.Env = []string{"A=1", "B=2", "A=3"} },
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "A=3", "B=2", "HOME=/root"}},
		{"a name alone removes it", func(in *Input) { in.Config.Env = []string{"TERM"}; in.Config.Tty = true },
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "HOME=/root"}},
		{"home of a user", func(in *Input) { in.Config.User = "app" },
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "HOME=/home/app"}},
		{"host network takes the host's name", func(in *Input) { in.HostConfig.NetworkMode = "host" },
			[]string{"PATH=" + DefaultPathEnv, "HOSTNAME=thehost", "HOME=/root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, tc.edit))
			if !slices.Equal(s.Process.Env, tc.want) {
				t.Errorf("env = %q\nwant  %q", s.Process.Env, tc.want)
			}
		})
	}
}

func TestProcessFields(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) {
		in.Image = &imageWithEntrypoint
		in.Config.Tty = true
		in.HostConfig.ConsoleSize = [2]uint{40, 120}
		in.HostConfig.OomScoreAdj = 500
		umask := uint32(0o077)
		in.HostConfig.Umask = &umask
	}))
	p := s.Process
	if !p.Terminal || p.ConsoleSize == nil || p.ConsoleSize.Height != 40 || p.ConsoleSize.Width != 120 {
		t.Errorf("terminal %v size %+v", p.Terminal, p.ConsoleSize)
	}
	if p.Cwd != "/srv" {
		t.Errorf("cwd = %q, want the image's /srv", p.Cwd)
	}
	if *p.OOMScoreAdj != 500 || *p.User.Umask != 0o077 {
		t.Errorf("oom %d umask %o", *p.OOMScoreAdj, *p.User.Umask)
	}
	if p.User.UID != 1000 || p.User.GID != 1000 {
		t.Errorf("user = %+v, want the image's user app (1000:1000)", p.User)
	}
}

func TestInit(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name     string
		daemon   bool
		flag     *bool
		pid      container.PidMode
		wantInit bool
	}{
		{"off", false, nil, "", false},
		{"--init", false, &yes, "", true},
		{"daemon default", true, nil, "", true},
		{"--init=false overrides the daemon", true, &no, "", false},
		{"not in the host's pid namespace", false, &yes, "host", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, func(in *Input) {
				in.Defaults.Init, in.Defaults.InitPath = tc.daemon, "/usr/libexec/berth-init"
				in.HostConfig.Init, in.HostConfig.PidMode = tc.flag, tc.pid
			}))
			m, mounted := mountAt(s, InitPath)
			if !tc.wantInit {
				if mounted || s.Process.Args[0] != "sh" {
					t.Errorf("init present: args %q", s.Process.Args)
				}
				return
			}
			if !slices.Equal(s.Process.Args, []string{InitPath, "--", "sh"}) {
				t.Errorf("args = %q", s.Process.Args)
			}
			if !mounted || m.Source != "/usr/libexec/berth-init" || !slices.Equal(m.Options, []string{"bind", "ro"}) {
				t.Errorf("init mount = %+v", m)
			}
		})
	}
	_, err := Spec(input(t, func(in *Input) { in.HostConfig.Init = &yes }))
	wantInvalid(t, err, "--init: the daemon has no init program configured (init-path)")
}

func TestRlimits(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) {
		in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}}
		in.Defaults.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1, Hard: 1}, {Name: "nproc", Soft: 100, Hard: 200}}
	}))
	want := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
		{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)},
		{Type: "RLIMIT_NPROC", Soft: 100, Hard: 200},
	}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("rlimits = %+v\nwant %+v", s.Process.Rlimits, want)
	}
}
