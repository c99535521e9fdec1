//go:build !linux

package oci

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var errDevicesUnsupported = errors.New("devices can be added to Linux containers only on Linux")

func devicesFromPath(host, ctr, perms string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	return nil, nil, errDevicesUnsupported
}

func hostDevices(dir string) ([]specs.LinuxDevice, error) { return nil, errDevicesUnsupported }

func deviceNumbers(path string) (int64, int64, error) { return 0, 0, errDevicesUnsupported }
