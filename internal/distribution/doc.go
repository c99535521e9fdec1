// Package distribution is berth's registry client: it speaks the distribution v2 / OCI
// distribution API to pull and push images.
//
// # The model
//
// A Client holds what is shared by every registry conversation: the configuration
// (mirrors, insecure registries, certificates), connection pools, the authentication
// state (challenges seen per host, tokens cached per scope) and the download and upload
// slots that bound parallel transfers. A Repository is one repository of one registry,
// opened with one login:
//
//	c, _ := distribution.NewClient(distribution.Config{Mirrors: ..., InsecureRegistries: ...})
//	ref, _ := reference.ParseNormalizedNamed("busybox")   // docker.io/library/busybox
//	repo, _ := c.Repository(ctx, ref, creds)
//	desc, _ := repo.Resolve(ctx, distribution.TagOrDigest(reference.TagNameOnly(ref)))
//	index, _ := repo.FetchManifest(ctx, desc)            // verified bytes
//	m, _ := platform.Select(parsedIndex.Manifests, platform.Default())
//	rc, _ := repo.Fetch(ctx, layerDesc, progress)        // streams, verifies at EOF
//
// # Endpoints
//
// A registry name maps to the URLs tried in order: for docker.io, each registry
// mirror, then https://registry-1.docker.io; for a registry listed as insecure (by name
// or by CIDR of its addresses), https without certificate verification, then http; for
// any other, https with the system's CAs plus <CertsDir>/<host:port>/*.crt and client
// certificates *.cert/*.key. A mirror that fails in any way (unreachable, 404, 401,
// bad content) hands over to the next endpoint; the registry itself hands over only
// when HTTP could not be spoken at all. The endpoint that answered last is tried first
// next time. Pushes never go to mirrors.
//
// # Authentication
//
// Requests go out anonymous until a host answers 401 with a WWW-Authenticate
// challenge; then the auth package's Authorizer answers it (Basic with the login, or a
// Bearer token from the challenge's realm for the scopes the request needs) and the
// request is sent once more. From then on requests to that host carry credentials
// from the start. See package auth.
//
// # Integrity
//
// Nothing unverified is handed over as good: manifests are checked against the
// requested digest or the registry's Docker-Content-Digest, blobs against their
// descriptor's digest and size as they stream (the reader's error at the end replaces
// io.EOF on a mismatch). Failures carry containerd/errdefs classes (NotFound,
// Unauthenticated, PermissionDenied, DataLoss, ...) under messages that name the
// reference.
package distribution
