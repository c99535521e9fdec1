package api

import (
	"net/http"

	"github.com/containerd/errdefs"
)

// berth has no swarm mode yet (its cluster mode is to come): the swarm routes
// answer as a Docker engine that is not part of a swarm does, so that clients
// which probe them (docker info, docker-py's test suites leaving any swarm in
// their tear-down) get Docker's 503 instead of a 404.
var (
	errNotSwarmManager = errdefs.ErrUnavailable.WithMessage(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)
	errNotInSwarm      = errdefs.ErrUnavailable.WithMessage("This node is not part of a swarm")
	errNoSwarmMode     = errdefs.ErrNotImplemented.WithMessage("berth has no swarm mode: swarm init and join are not available")
)

func (s *Server) swarmRoutes() {
	refuse := func(err error) handlerFunc {
		return func(http.ResponseWriter, *http.Request) error { return err }
	}
	for _, p := range []string{"GET /swarm", "POST /swarm/update", "GET /swarm/unlockkey"} {
		s.handle(p, refuse(errNotSwarmManager))
	}
	for _, p := range []string{"POST /swarm/leave", "POST /swarm/unlock"} {
		s.handle(p, refuse(errNotInSwarm))
	}
	for _, p := range []string{"POST /swarm/init", "POST /swarm/join"} {
		s.handle(p, refuse(errNoSwarmMode))
	}
	for _, area := range []string{"services", "nodes", "tasks", "secrets", "configs"} {
		s.handle("/"+area, refuse(errNotSwarmManager))
		s.handle("/"+area+"/", refuse(errNotSwarmManager))
	}
}
