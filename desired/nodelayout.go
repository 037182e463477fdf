package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Node layouts, the values of fleet.yaml's nodeLayout: where each node's
// file lives.
//
// A git tree object lists a whole directory, so with the flat layout every
// commit that changes one node writes a new nodes/ tree the size of the
// fleet (about 43 bytes per node: 430 kB at 10,000 nodes), which the git
// server walks and packs and every agent fetches, indexes and reads. The
// sharded layout spreads the node files over 256 directories, so such a
// commit writes one shard's tree (a 256th of the fleet) and a 256-entry
// nodes/ tree.
const (
	// NodeLayoutFlat: nodes/<name>.yaml. The default.
	NodeLayoutFlat = "flat"
	// NodeLayoutSharded: nodes/<shard>/<name>.yaml, where the shard is
	// NodeShard(name).
	NodeLayoutSharded = "sharded"
)

// ShardingAdvisedNodes is the number of nodes from which a flat fleet is
// advised to shard (ShardingAdvice): its nodes/ tree is then 43 kB per
// commit, and forges stop listing a directory of that size.
const ShardingAdvisedNodes = 1000

// ShardingAdvice is a note for the operator of a fleet with the flat
// layout and at least ShardingAdvisedNodes nodes, "" for any other fleet.
// It is advice, not an error: a flat fleet of any size is valid.
func ShardingAdvice(f *Fleet) string {
	if f.NodeLayout != NodeLayoutFlat || len(f.Nodes) < ShardingAdvisedNodes {
		return ""
	}
	return fmt.Sprintf("%d node files in one flat %s/ directory: every one-node commit rewrites its tree (about %d kB), "+
		"which the git server packs and every agent fetches and reads; nodeLayout: %s in fleet.yaml makes that a 256th "+
		"(docs/desired-state.md, Node layout)", len(f.Nodes), NodesDir, (len(f.Nodes)*43+999)/1000, NodeLayoutSharded)
}

// NodeShard is the shard directory of the node called name in the sharded
// layout: the first two hex digits of the SHA-256 of the name ("3f"), so
// that nodes spread evenly whatever their names look like.
func NodeShard(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:1])
}

// NodeFile is the path of the file of the node called name in layout ("" is
// the default, flat).
func NodeFile(layout, name string) string {
	if layout == NodeLayoutSharded {
		return NodesDir + "/" + NodeShard(name) + "/" + name + ".yaml"
	}
	return NodesDir + "/" + name + ".yaml"
}

// NodeFiles are the paths the file of the node called name has in either
// layout, flat first: a writer that edits or removes a node looks for it in
// both, whatever the layout, so a fleet moving from one to the other is
// handled too.
func NodeFiles(name string) [2]string {
	return [2]string{NodeFile(NodeLayoutFlat, name), NodeFile(NodeLayoutSharded, name)}
}

// isShardDir reports whether name is a shard directory's name: two
// lowercase hex digits.
func isShardDir(name string) bool {
	return len(name) == 2 && strings.Trim(name, "0123456789abcdef") == ""
}

// IsNodeFilePath reports whether p has the form of a node file in either
// layout (nodes/<x>.yaml or nodes/<shard>/<x>.yaml); it does not check
// that x is the right name, or the right shard (validation does).
func IsNodeFilePath(p string) bool {
	dir, base := path.Split(p)
	if !strings.HasSuffix(base, ".yaml") {
		return false
	}
	if dir == NodesDir+"/" {
		return true
	}
	shard, ok := strings.CutPrefix(dir, NodesDir+"/")
	return ok && isShardDir(strings.TrimSuffix(shard, "/"))
}

// NodeLayoutOf reads the node layout of the fleet in fsys from its
// fleet.yaml (strictly decoded, defaulted), for a writer of node files
// that has no loaded fleet. A fleet without a fleet.yaml is flat.
func NodeLayoutOf(fsys fs.FS) (string, error) {
	data, err := readFile(fsys, FleetFile)
	if errors.Is(err, fs.ErrNotExist) {
		return NodeLayoutFlat, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the node layout: %s: %w", FleetFile, err)
	}
	var f Fleet
	var errs Errors
	if !DecodeBytes(FleetFile, data, KindFleet, &f, &f.Source, &errs) || len(errs) > 0 {
		return "", fmt.Errorf("reading the node layout: %w", errs.Err())
	}
	SetDefaults(&f)
	if f.NodeLayout != NodeLayoutFlat && f.NodeLayout != NodeLayoutSharded {
		p := f.Source.Pos(FleetFile, "nodeLayout")
		e := Error{File: FleetFile, Line: p.Line, Col: p.Col, Field: "nodeLayout",
			Msg: fmt.Sprintf("nodeLayout %q is not one of %s, %s", f.NodeLayout, NodeLayoutFlat, NodeLayoutSharded)}
		return "", fmt.Errorf("reading the node layout: %w", e)
	}
	return f.NodeLayout, nil
}
