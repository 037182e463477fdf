package desired

import (
	"io/fs"
	"sync"
)

// BlobHasher is an fs.FS that names each file's contents by a hash, as
// *gittree.FS does with git blob hashes: two files with the same hash have
// the same contents.
type BlobHasher interface {
	BlobHash(name string) (string, bool)
}

// Cache makes repeated loads of a changing fleet cost what changed: a node
// file whose path and blob hash are those of the previous load is not read
// or decoded again; its node (and its problems, if any) are taken from that
// load. When the previous load was valid and the file system can tell that
// only node files changed (a DirDiffer), only those are decoded and
// validated (incremental.go). Only an fs.FS that is a BlobHasher benefits;
// other file systems are loaded in full. The result of Cache.Load is the
// same as Load's.
//
// Fleets loaded through one Cache share their unchanged nodes: treat them
// as read-only (defaults are applied to a node once, when it is decoded).
// The zero value is ready; a Cache is safe for concurrent use (loads run one
// at a time) and holds the previous load's nodes until the next one.
type Cache struct {
	mu    sync.Mutex
	nodes map[string]cachedNode // by path
	gen   uint64                // the load that last saw each entry
	// clean holds the blob hashes of the previous load's files in which
	// the plaintext-key scan found nothing: they are not read again.
	clean map[string]bool
	// last is the last valid load, for the next one to decode and
	// validate only the node files that changed (incremental.go).
	last *lastLoad
}

type cachedNode struct {
	hash   string
	node   *Node // nil when the file did not decode
	result fileResult
	gen    uint64
}

// Load is desired.Load reusing the nodes of the previous load whose files
// did not change.
func (c *Cache) Load(fsys fs.FS) (*Fleet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.loadChanged(fsys); ok {
		return f, nil
	}
	f, idx, err := loader{cache: c}.loadIndexed(fsys)
	if err == nil && idx != nil && c.nodes != nil && c.clean != nil {
		c.last = &lastLoad{fsys: fsys, fleet: f, idx: idx}
	}
	return f, err
}

// reuseNodes fills nodes and results for the files of fsys the cache holds
// unchanged and returns the indexes of the others, which the caller
// decodes (all of them without a cache or a BlobHasher), and each file's
// hash ("" when unknown) for keepNodes.
func (c *Cache) reuseNodes(fsys fs.FS, files []string, nodes []*Node) (results []fileResult, miss []int, hashes []string) {
	results = make([]fileResult, len(files))
	h, ok := fsys.(BlobHasher)
	if c == nil || !ok {
		miss = make([]int, len(files))
		for i := range files {
			miss[i] = i
		}
		return results, miss, nil
	}
	hashes = make([]string, len(files))
	for i, f := range files {
		hashes[i], _ = h.BlobHash(f)
		if e, hit := c.nodes[f]; hit && hashes[i] != "" && hashes[i] == e.hash {
			nodes[i], results[i] = e.node, e.result
			continue
		}
		miss = append(miss, i)
	}
	return results, miss, hashes
}

// keepNodes remembers this load's node files, and only them, for the next.
func (c *Cache) keepNodes(files, hashes []string, nodes []*Node, results []fileResult) {
	if c == nil {
		return
	}
	if hashes == nil {
		c.nodes = nil
		return
	}
	// Updated in place (a 10,000-entry map is not rebuilt per load);
	// entries this load did not see are dropped.
	if c.nodes == nil {
		c.nodes = make(map[string]cachedNode, len(files))
	}
	c.gen++
	for i, f := range files {
		hash := hashes[i]
		if hash == "" {
			continue
		}
		e := cachedNode{hash: hash, result: results[i], gen: c.gen}
		if results[i].ok {
			e.node = nodes[i]
		}
		c.nodes[f] = e
	}
	for f, e := range c.nodes {
		if e.gen != c.gen {
			delete(c.nodes, f)
		}
	}
}

// pick returns the files at the indexes idx.
func pick(files []string, idx []int) []string {
	out := make([]string, len(idx))
	for j, i := range idx {
		out[j] = files[i]
	}
	return out
}
