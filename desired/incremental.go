package desired

import (
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// DirDiffer is an fs.FS that can tell what changed in one top-level
// directory since an earlier FS of its kind, as *gittree.FS does by
// comparing git tree hashes: ok reports that nothing else changed, and
// changed and removed list the files directly in dir that are new or
// differ, and those gone.
type DirDiffer interface {
	DiffDir(prev fs.FS, dir string) (changed, removed []string, ok bool)
}

// Bounds of the incremental load.
const (
	// maxIncremental is the most node files one incremental load
	// decodes; a larger change is loaded in full.
	maxIncremental = 256
	// fullLoadEvery forces a full load after this many incremental ones,
	// so what a Cache keeps (the clean-file hashes, the indexes) never
	// drifts from what a full load finds.
	fullLoadEvery = 256
)

// lastLoad is the last load through a Cache that found the fleet valid.
type lastLoad struct {
	fsys  fs.FS
	fleet *Fleet
	idx   *nodeIndex
	// incremental counts the incremental loads since the last full one.
	incremental int
}

// loadChanged is the incremental load: when the last load was valid and
// fsys says only node files changed since (DirDiffer), it decodes those
// files alone, and validates them against the indexes of the last load
// plus every check that is not about one node (zones, backends,
// containers, overrides: a few objects). The fleet it returns is the one
// Load would return. It gives up (ok false) on anything unusual and on any
// error, so that the full load reports every problem as Load does; the
// caller then loads in full. c.mu is held.
func (c *Cache) loadChanged(fsys fs.FS) (*Fleet, bool) {
	last := c.last
	c.last = nil // set again below only if this load succeeds
	d, isDiffer := fsys.(DirDiffer)
	h, isHasher := fsys.(BlobHasher)
	if last == nil || !isDiffer || !isHasher || last.incremental >= fullLoadEvery {
		return nil, false
	}
	changed, removed, ok := d.DiffDir(last.fsys, NodesDir)
	if !ok || len(changed)+len(removed) > maxIncremental {
		return nil, false
	}
	for _, p := range changed {
		if !IsNodeFilePath(p) {
			return nil, false // a .yml or other file, a directory of another name: the full load says what is wrong
		}
	}

	// Read each changed file once: decode it with the full load's decoder
	// and scan it for plaintext keys.
	l := loader{cache: c}
	nodes := make([]*Node, len(changed))
	results := make([]fileResult, len(changed))
	hashes := make([]string, len(changed))
	src := Source{files: maps.Clone(last.fleet.Source.files)}
	for i, p := range changed {
		data, err := readFile(fsys, p)
		nodes[i] = &Node{File: p}
		results[i] = l.decodeRead(p, data, err, KindNode, nodes[i])
		var errs Errors
		if !results[i].merge(p, &src, &errs) || len(errs) > 0 {
			return nil, false // includes a file over MaxFileBytes
		}
		if len(plaintextKeys(p, data[:min(len(data), maxScan)])) > 0 {
			return nil, false
		}
		var hashed bool
		if hashes[i], hashed = h.BlobHash(p); !hashed {
			return nil, false
		}
		setNodeDefaults(nodes[i])
	}
	for _, p := range removed {
		delete(src.files, p)
	}

	// The node list: the last one without the old versions, plus the new.
	gone := make(map[string]bool, len(changed)+len(removed))
	for _, p := range changed {
		gone[p] = true
	}
	for _, p := range removed {
		gone[p] = true
	}
	idx := last.idx
	list := make([]*Node, 0, len(last.fleet.Nodes)+len(changed))
	for _, n := range last.fleet.Nodes {
		if !gone[n.File] {
			list = append(list, n)
			continue
		}
		// Out of the indexes too (they held the old node's keys).
		if idx.nodes[n.Name] == n {
			delete(idx.nodes, n.Name)
		}
		if idx.pubKeys[n.PubKey] == n {
			delete(idx.pubKeys, n.PubKey)
		}
		if k := (endpoint{n.Zone, n.Host, n.HTTPPort}); idx.endpoints[k] == n {
			delete(idx.endpoints, k)
		}
	}
	for _, n := range nodes {
		if _, dup := idx.nodes[n.Name]; dup {
			return nil, false // two nodes of one name: the full load says which
		}
		idx.nodes[n.Name] = n
		i, _ := slices.BinarySearchFunc(list, n.Name, func(m *Node, name string) int { return strings.Compare(m.Name, name) })
		list = slices.Insert(list, i, n)
	}

	f := *last.fleet // the other objects are those of the last load: unchanged files
	f.Nodes, f.Source = list, src
	if errs, _ := validateNodes(&f, broken{}, idx, nodes); len(errs) > 0 {
		return nil, false
	}

	// Keep what a full load would keep.
	for i, p := range changed {
		c.nodes[p] = cachedNode{hash: hashes[i], node: nodes[i], result: results[i], gen: c.gen}
		c.clean[hashes[i]] = true
	}
	for _, p := range removed {
		delete(c.nodes, p)
	}
	c.last = &lastLoad{fsys: fsys, fleet: &f, idx: idx, incremental: last.incremental + 1}
	return &f, true
}
