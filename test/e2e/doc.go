// Package e2e drives berthd with the real docker CLI (/usr/local/bin/docker,
// the 28.2 client): each test starts its own berthd as root on a temporary
// data root, exec root and socket, points DOCKER_HOST at it and checks what a
// Docker user would see. The tests skip with a message when not run as root or
// when the docker CLI is missing.
package e2e
