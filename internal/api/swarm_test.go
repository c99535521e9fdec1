package api

import "testing"

// Without swarm mode the swarm routes answer as Docker's engine outside a swarm.
func TestSwarmRoutesAnswerAsAnEngineOutsideASwarm(t *testing.T) {
	s, _ := newTestServer(t)
	for _, c := range []struct {
		method, path string
		status       int
		message      string
	}{
		{"GET", "/v1.41/swarm", 503, `This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`},
		{"POST", "/v1.41/swarm/leave?force=1", 503, "This node is not part of a swarm"},
		{"GET", "/v1.50/services", 503, `This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`},
		{"DELETE", "/v1.50/secrets/abc", 503, `This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`},
		{"POST", "/v1.50/swarm/init", 501, "berth has no swarm mode: swarm init and join are not available"},
	} {
		rec := do(t, s, c.method, c.path)
		if rec.Code != c.status || message(t, rec) != c.message {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, rec.Code, rec.Body, c.status, c.message)
		}
	}
}
