package api

import (
	"context"
	"encoding/json"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
)

// An image answers as the client's API version shaped it. The type is today's
// (1.50 on: the image's OCI config as it is); what older versions showed is
// put back here, for clients that index those fields (image.attrs["Config"]
// ["Env"] in docker-py).

// imageInspectV149 is an image's inspect answer before API 1.50: Config in the
// shape of a container's config, every field present; Parent and Author even
// when empty; before 1.45 Container, ContainerConfig and DockerVersion, and
// before 1.44 VirtualSize.
type imageInspectV149 struct {
	*image.InspectResponse
	Config          map[string]any
	Parent          string
	Author          string
	Container       *string        `json:",omitempty"`
	ContainerConfig map[string]any `json:",omitempty"`
	DockerVersion   *string        `json:",omitempty"`
	VirtualSize     *int64         `json:",omitempty"`
}

// legacyConfigFields are the fields a container's config always showed, with
// their zero values.
var legacyConfigFields = map[string]any{
	"Hostname": "", "Domainname": "", "User": "", "AttachStdin": false, "AttachStdout": false,
	"AttachStderr": false, "Tty": false, "OpenStdin": false, "StdinOnce": false, "Env": nil,
	"Cmd": nil, "Image": "", "Volumes": nil, "WorkingDir": "", "Entrypoint": nil, "OnBuild": nil,
	"Labels": nil,
}

// legacyConfig is cfg with every field a container's config showed.
func legacyConfig(cfg *dockerspec.DockerOCIImageConfig) map[string]any {
	m := map[string]any{}
	if cfg != nil {
		if b, err := json.Marshal(cfg); err == nil {
			json.Unmarshal(b, &m)
		}
	}
	for k, v := range legacyConfigFields {
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	return m
}

// imageInspectForVersion returns what to encode for the request's API version.
func imageInspectForVersion(ctx context.Context, info *image.InspectResponse) any {
	if !versionBefore(ctx, "1.50") {
		return info
	}
	if versionBefore(ctx, "1.48") {
		info.Descriptor = nil
	}
	out := imageInspectV149{InspectResponse: info, Config: legacyConfig(info.Config), Author: info.Author}
	if versionBefore(ctx, "1.45") {
		none := ""
		out.Container, out.DockerVersion = &none, &none
		out.ContainerConfig = legacyConfig(nil)
	}
	if versionBefore(ctx, "1.44") {
		size := info.Size
		out.VirtualSize = &size
	}
	return out
}
