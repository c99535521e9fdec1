package oci

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestUser(t *testing.T) {
	for _, tc := range []struct {
		user     string
		groupAdd []string
		uid, gid uint32
		gids     []uint32
		home     string
		err      string
	}{
		{user: "", uid: 0, gid: 0, gids: []uint32{0}, home: "/root"},
		{user: "root", uid: 0, gid: 0, gids: []uint32{0}, home: "/root"},
		{user: "app", uid: 1000, gid: 1000, gids: []uint32{1000, 29, 44}, home: "/home/app"},
		{user: "1000", uid: 1000, gid: 1000, gids: []uint32{1000, 29, 44}, home: "/home/app"},
		{user: "app:staff", uid: 1000, gid: 50, gids: []uint32{50}, home: "/home/app"},
		{user: "app:50", uid: 1000, gid: 50, gids: []uint32{50}, home: "/home/app"},
		{user: "daemon", uid: 1, gid: 1, gids: []uint32{1, 44}, home: "/usr/sbin"},
		{user: "4242", uid: 4242, gid: 0, gids: []uint32{0}, home: "/"},
		{user: "4242:4343", uid: 4242, gid: 4343, gids: []uint32{4343}, home: "/"},
		{user: "app", groupAdd: []string{"staff", "7777", "audio"}, uid: 1000, gid: 1000, gids: []uint32{1000, 29, 44, 50, 7777, 29}, home: "/home/app"},
		{user: "nobody", err: "unable to find user nobody: no matching entries in passwd file"},
		{user: "app:nogroup", err: "unable to find group nogroup: no matching entries in group file"},
		{user: "99999999999", err: "uids and gids must be in range 0-2147483647"},
		{user: "2147483648", err: "uids and gids must be in range 0-2147483647"},
		{user: "app", groupAdd: []string{"wheel"}, err: "Unable to find group wheel: no matching entries in group file"},
	} {
		t.Run(tc.user+"+"+filepathJoin(tc.groupAdd), func(t *testing.T) {
			in := input(t, func(in *Input) { in.Config.User, in.HostConfig.GroupAdd = tc.user, tc.groupAdd })
			s, err := Spec(in)
			if tc.err != "" {
				wantInvalid(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u := s.Process.User
			if u.UID != tc.uid || u.GID != tc.gid || !slices.Equal(u.AdditionalGids, tc.gids) {
				t.Errorf("user = %d:%d %v, want %d:%d %v", u.UID, u.GID, u.AdditionalGids, tc.uid, tc.gid, tc.gids)
			}
			if home := s.Process.Env[len(s.Process.Env)-1]; home != "HOME="+tc.home {
				t.Errorf("%s, want HOME=%s", home, tc.home)
			}
		})
	}
}

func filepathJoin(l []string) string { return filepath.Join(l...) }

func TestUserWithoutPasswdFiles(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) { in.Rootfs, in.Config.User = t.TempDir(), "1000:1000" }))
	if u := s.Process.User; u.UID != 1000 || u.GID != 1000 {
		t.Errorf("user = %+v", u)
	}
	_, err := Spec(input(t, func(in *Input) { in.Rootfs, in.Config.User = t.TempDir(), "app" }))
	wantInvalid(t, err, "unable to find user app: no matching entries in passwd file")
}

// An image's /etc/passwd that is an absolute symlink is read from inside the
// rootfs, never from the host's file of the same path.
func TestUserFilesStayInsideRootfs(t *testing.T) {
	outside := t.TempDir()
	write(t, filepath.Join(outside, "passwd"), "evil:x:0:0::/:/bin/sh\n")
	root := t.TempDir()
	write(t, filepath.Join(root, outside, "passwd"), "good:x:7:7::/good:/bin/sh\n")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	_, err := Spec(input(t, func(in *Input) { in.Rootfs, in.Config.User = root, "evil" }))
	wantInvalid(t, err, "unable to find user evil: no matching entries in passwd file")
	s := mustSpec(t, input(t, func(in *Input) { in.Rootfs, in.Config.User = root, "good" }))
	if s.Process.User.UID != 7 {
		t.Errorf("uid %d, want 7 from the rootfs's file", s.Process.User.UID)
	}

	// A relative symlink climbing out is refused, not followed.
	root = t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(filepath.Join(root, "etc"), filepath.Join(outside, "passwd"))
	if err := os.Symlink(rel, filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if _, err := Spec(input(t, func(in *Input) { in.Rootfs, in.Config.User = root, "evil" })); err == nil {
		t.Fatal("user found through a symlink leaving the rootfs")
	}
}
