// Package container keeps berth's records of containers: what each was created
// with, its state (created, running, paused, restarting, exited, dead), and the
// names that point at it.
//
// # On disk
//
//	<root>/<id>/config.v2.json   the record, written atomically and fsynced on
//	                             every change of state (internal/atomicfile)
//
// Store loads every record when it opens and answers lookups from memory. A
// directory without a readable record is a creation that a crash cut short:
// Open reports it (Leftovers) for the daemon to remove with what belongs to it.
//
// # Names
//
// A container has one name ("/web"); names are unique. Lookups take a full ID,
// a unique ID prefix, or a name with or without its slash, in Docker's order:
// full ID, then name, then prefix. The store serialises nothing else: the
// daemon holds a container's lock (Container.Lock) while it changes its state.
package container
