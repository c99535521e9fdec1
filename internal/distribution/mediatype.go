package distribution

import (
	"encoding/json"
	"mime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types, which registries serve beside the OCI ones.
const (
	MediaTypeDockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeDockerConfig        = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer         = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeignLayer  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// manifestAccept is the Accept header of manifest requests: the kinds berth can use.
// Schema 1 is not offered; a registry that has nothing else sends it anyway and it is
// refused by name.
var manifestAccept = strings.Join([]string{
	ocispec.MediaTypeImageIndex,
	ocispec.MediaTypeImageManifest,
	MediaTypeDockerManifestList,
	MediaTypeDockerManifest,
}, ", ")

// IsIndex reports whether mt is an image index or a Docker manifest list.
func IsIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// IsManifest reports whether mt is a single-platform image manifest (OCI or Docker
// schema 2).
func IsManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == MediaTypeDockerManifest
}

// isSchema1 reports whether mt is one of Docker's retired schema 1 manifest types.
func isSchema1(mt string) bool {
	return mt == MediaTypeDockerSchema1 || mt == MediaTypeDockerSchema1Signed
}

// contentType returns the media type of a Content-Type header, without parameters.
func contentType(h string) string {
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return strings.TrimSpace(h)
	}
	return mt
}

// DetectManifestType finds the media type of a manifest from its content, for registries
// that answer with a generic Content-Type and for OCI manifests that omit mediaType:
// "manifests" makes an index, "config" a manifest, "fsLayers" a schema 1 manifest. It
// returns "" when content is none of these.
func DetectManifestType(content []byte) string {
	var m struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     json.RawMessage   `json:"manifests"`
		Config        json.RawMessage   `json:"config"`
		FSLayers      json.RawMessage   `json:"fsLayers"`
		Signatures    []json.RawMessage `json:"signatures"`
	}
	if json.Unmarshal(content, &m) != nil {
		return ""
	}
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.SchemaVersion == 1 || m.FSLayers != nil:
		if len(m.Signatures) > 0 {
			return MediaTypeDockerSchema1Signed
		}
		return MediaTypeDockerSchema1
	case m.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case m.Config != nil:
		return ocispec.MediaTypeImageManifest
	}
	return ""
}

// genericType reports whether a Content-Type says nothing about the manifest's kind.
func genericType(mt string) bool {
	switch mt {
	case "", "application/json", "text/plain", "application/octet-stream":
		return true
	}
	return false
}
