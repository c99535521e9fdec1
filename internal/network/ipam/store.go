package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/atomicfile"
)

// schemaVersion is the version of ipam.json this code writes and reads.
const schemaVersion = 1

// fileName is the store's one file inside the directory given to Open.
const fileName = "ipam.json"

// Store keeps the pools of all networks and the addresses handed out from them. It is
// safe for concurrent use by the goroutines of one process; two processes must not open
// the same directory at once (the daemon holds its own lock for that).
type Store struct {
	mu    sync.Mutex
	path  string
	pools map[string]*pool
}

// pool is a Pool with its allocations.
type pool struct {
	Pool
	allocated map[netip.Addr]struct{}
	last      netip.Addr // the last address Request picked by itself: the round-robin cursor
}

// file is ipam.json.
type file struct {
	Version int                  `json:"version"`
	Pools   map[string]*poolFile `json:"pools"`
}

type poolFile struct {
	Subnet    netip.Prefix `json:"subnet"`
	Gateway   netip.Addr   `json:"gateway"`
	IPRange   netip.Prefix `json:"ipRange"`
	Reserved  []netip.Addr `json:"reserved"`
	Allocated []netip.Addr `json:"allocated"`
	Last      netip.Addr   `json:"last"`
}

// Open loads the store kept in dir, creating dir if needed. A missing file is an empty
// store.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ipam: %w", err)
	}
	s := &Store{path: filepath.Join(dir, fileName), pools: map[string]*pool{}}
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ipam: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("ipam: %s: %w", s.path, err)
	}
	if f.Version != schemaVersion {
		return nil, fmt.Errorf("ipam: %s has schema version %d, this berth reads %d: %w", s.path, f.Version, schemaVersion, errdefs.ErrFailedPrecondition)
	}
	for key, pf := range f.Pools {
		if pf == nil || !pf.Subnet.IsValid() || !pf.Gateway.IsValid() {
			return nil, fmt.Errorf("ipam: %s: pool %q has no subnet or gateway", s.path, key)
		}
		p := &pool{
			Pool:      Pool{Subnet: pf.Subnet, Gateway: pf.Gateway, IPRange: pf.IPRange, Reserved: pf.Reserved},
			allocated: make(map[netip.Addr]struct{}, len(pf.Allocated)),
			last:      pf.Last,
		}
		for _, a := range pf.Allocated {
			p.allocated[a] = struct{}{}
		}
		s.pools[key] = p
	}
	return s, nil
}

// save writes the whole store to disk; the caller holds s.mu.
func (s *Store) save() error {
	f := file{Version: schemaVersion, Pools: make(map[string]*poolFile, len(s.pools))}
	for key, p := range s.pools {
		f.Pools[key] = &poolFile{
			Subnet: p.Subnet, Gateway: p.Gateway, IPRange: p.IPRange, Reserved: p.Reserved,
			Allocated: sortedAddrs(p.allocated), Last: p.last,
		}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("ipam: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, data, 0o600); err != nil {
		return fmt.Errorf("ipam: save: %w", err)
	}
	return nil
}

func sortedAddrs(m map[netip.Addr]struct{}) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// get returns the pool of key; the caller holds s.mu.
func (s *Store) get(key string) (*pool, error) {
	p, ok := s.pools[key]
	if !ok {
		return nil, fmt.Errorf("ipam: no address pool for network %q: %w", key, errdefs.ErrNotFound)
	}
	return p, nil
}

// AddPool registers the pool of a network under key and returns it with its defaults
// filled in. It fails if key has a pool already (errdefs.ErrAlreadyExists) or if the
// subnet overlaps another network's (ErrPoolOverlap). Checking and registering happen
// under one lock, so of two networks created at once with the same subnet (for example
// both from NextSubnet) exactly one gets it.
func (s *Store) AddPool(key string, p Pool) (Pool, error) {
	p, err := p.normalize()
	if err != nil {
		return Pool{}, fmt.Errorf("ipam: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pools[key]; ok {
		return Pool{}, fmt.Errorf("ipam: network %q has an address pool already: %w", key, errdefs.ErrAlreadyExists)
	}
	if err := s.overlaps(p.Subnet); err != nil {
		return Pool{}, err
	}
	s.pools[key] = &pool{Pool: p, allocated: map[netip.Addr]struct{}{}}
	if err := s.save(); err != nil {
		delete(s.pools, key)
		return Pool{}, err
	}
	return clonePool(p), nil
}

// RemovePool forgets the pool of key with all its allocations. A missing pool is
// errdefs.ErrNotFound.
func (s *Store) RemovePool(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(key)
	if err != nil {
		return err
	}
	delete(s.pools, key)
	if err := s.save(); err != nil {
		s.pools[key] = p
		return err
	}
	return nil
}

// Pool returns the pool registered under key.
func (s *Store) Pool(key string) (Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(key)
	if err != nil {
		return Pool{}, err
	}
	return clonePool(p.Pool), nil
}

// Pools returns every registered pool by key.
func (s *Store) Pools() map[string]Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Pool, len(s.pools))
	for key, p := range s.pools {
		out[key] = clonePool(p.Pool)
	}
	return out
}

func clonePool(p Pool) Pool {
	p.Reserved = slices.Clone(p.Reserved)
	return p
}

// Allocated returns the addresses of key's pool that are handed out, in order.
func (s *Store) Allocated(key string) ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(key)
	if err != nil {
		return nil, err
	}
	return sortedAddrs(p.allocated), nil
}

// Request hands out an address of key's pool and records it on disk before returning.
// With a valid want it returns exactly want, or fails: ErrOutOfRange if want is not in
// the subnet or is its network or broadcast address, ErrAddressInUse if want is the
// gateway, reserved or handed out already. With the zero want it returns the next free
// address of the ip-range after the last one it picked (round robin), or
// ErrNoAvailable.
func (s *Store) Request(key string, want netip.Addr) (netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(key)
	if err != nil {
		return netip.Addr{}, err
	}
	if want.IsValid() {
		want = want.Unmap()
		if err := p.check(want); err != nil {
			return netip.Addr{}, err
		}
		p.allocated[want] = struct{}{}
		if err := s.save(); err != nil {
			delete(p.allocated, want)
			return netip.Addr{}, err
		}
		return want, nil
	}
	a, ok := p.next()
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w (%s)", ErrNoAvailable, p.pickRange())
	}
	last := p.last
	p.allocated[a], p.last = struct{}{}, a
	if err := s.save(); err != nil {
		delete(p.allocated, a)
		p.last = last
		return netip.Addr{}, err
	}
	return a, nil
}

// check says why a may not be handed out, if it may not.
func (p *pool) check(a netip.Addr) error {
	if !p.Subnet.Contains(a) {
		return fmt.Errorf("%w: %s is not in subnet %s", ErrOutOfRange, a, p.Subnet)
	}
	first, last := usableBounds(p.Subnet)
	if a.Less(first) || last.Less(a) {
		return fmt.Errorf("%w: %s is the %s of subnet %s", ErrOutOfRange, a, special(p.Subnet, a), p.Subnet)
	}
	if a == p.Gateway {
		return fmt.Errorf("%w: %s is the gateway", ErrAddressInUse, a)
	}
	if slices.Contains(p.Reserved, a) {
		return fmt.Errorf("%w: %s is reserved", ErrAddressInUse, a)
	}
	if _, ok := p.allocated[a]; ok {
		return ErrAddressInUse
	}
	return nil
}

// free reports whether a may be handed out.
func (p *pool) free(a netip.Addr) bool {
	if _, ok := p.allocated[a]; ok {
		return false
	}
	return a != p.Gateway && !slices.Contains(p.Reserved, a)
}

// next finds the first free address of the ip-range after p.last, wrapping around.
//
// The ip-range may have 2^64 addresses, so it is never walked whole: at most
// len(allocated)+len(reserved)+1 of its addresses are taken (the +1 is the gateway), so
// among that many plus one consecutive addresses one is free, unless the walk comes
// back to where it began first, in which case the range is full.
func (p *pool) next() (netip.Addr, bool) {
	r := p.pickRange()
	lo, hi := r.Addr(), lastAddr(r)
	first, last := usableBounds(p.Subnet)
	if lo.Less(first) {
		lo = first
	}
	if last.Less(hi) {
		hi = last
	}
	if hi.Less(lo) {
		return netip.Addr{}, false
	}
	step := func(a netip.Addr) netip.Addr {
		if a == hi {
			return lo
		}
		return a.Next()
	}
	start := lo
	if p.last.IsValid() && !p.last.Less(lo) && !hi.Less(p.last) {
		start = step(p.last)
	}
	a := start
	for range len(p.allocated) + len(p.Reserved) + 2 {
		if p.free(a) {
			return a, true
		}
		if a = step(a); a == start {
			break
		}
	}
	return netip.Addr{}, false
}

// Release returns addr to key's pool. Releasing an address that is not handed out is
// not an error, so a caller cleaning up after a failure may release twice.
func (s *Store) Release(key string, addr netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(key)
	if err != nil {
		return err
	}
	addr = addr.Unmap()
	if _, ok := p.allocated[addr]; !ok {
		return nil
	}
	delete(p.allocated, addr)
	if err := s.save(); err != nil {
		p.allocated[addr] = struct{}{}
		return err
	}
	return nil
}

// ReleaseAll returns every address of key's pool; the pool stays registered, and the
// round-robin cursor stays where it was.
func (s *Store) ReleaseAll(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.get(key)
	if err != nil {
		return err
	}
	if len(p.allocated) == 0 {
		return nil
	}
	old := p.allocated
	p.allocated = map[netip.Addr]struct{}{}
	if err := s.save(); err != nil {
		p.allocated = old
		return err
	}
	return nil
}

// Overlaps returns ErrPoolOverlap, naming both subnets and the network, if subnet
// overlaps a registered pool. Subnets of different families never overlap.
func (s *Store) Overlaps(subnet netip.Prefix) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlaps(subnet.Masked())
}

// overlaps is Overlaps with s.mu held, checking keys in order so the message is stable.
func (s *Store) overlaps(subnet netip.Prefix) error {
	keys := make([]string, 0, len(s.pools))
	for key := range s.pools {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if p := s.pools[key]; p.Subnet.Overlaps(subnet) {
			return fmt.Errorf("%w: %s overlaps %s of network %q", ErrPoolOverlap, subnet, p.Subnet, key)
		}
	}
	return nil
}
