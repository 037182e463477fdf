package desired

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/gittree"
	"github.com/ddc-gitops/ddc-gitops/internal/fleetgen"
)

// TestIncrementalLoadEqualsFullLoad commits a series of changes to a real
// git repository and loads each commit through one Cache (the incremental
// path where it applies) and with Load (in full): the fleets and the
// errors must be the same, and the incremental path must be taken where
// it should.
func TestIncrementalLoadEqualsFullLoad(t *testing.T) {
	const nodes, zones = 300, 2
	r := newFleetRepo(t, nodes, zones)
	seed := r.seed
	write, gitCmd := r.write, r.git

	node := func(i, weight int) string { return string(fleetgen.NodeFile(i, zones, weight)) }
	// An existing node's file with one line replaced.
	edit := func(i int, old, new string) string {
		s := node(i, 100)
		if !strings.Contains(s, old) {
			t.Fatalf("node %d has no %q", i, old)
		}
		return strings.Replace(s, old, new, 1)
	}
	pubKeyOf := func(i int) string {
		for _, l := range strings.Split(node(i, 1), "\n") {
			if k, ok := strings.CutPrefix(l, "pubKey: "); ok {
				return k
			}
		}
		t.Fatal("no pubKey")
		return ""
	}
	hostOf := func(i int) string { return fleetgen.NodeAddress(i) }

	steps := []struct {
		name        string
		files       map[string]string // "" removes
		incremental bool              // the Cache must take the incremental path
	}{
		{"seed", nil, false},
		{"one weight", map[string]string{fleetgen.NodePath(7): node(7, 42)}, true},
		{"adds and removals", map[string]string{
			fleetgen.NodePath(nodes): node(nodes, 10), fleetgen.NodePath(nodes + 1): node(nodes+1, 10), fleetgen.NodePath(nodes + 2): node(nodes+2, 10),
			fleetgen.NodePath(3): "", fleetgen.NodePath(4): "",
		}, true},
		{"a duplicate pubKey", map[string]string{fleetgen.NodePath(10): edit(10, "pubKey: "+pubKeyOf(10), "pubKey: "+pubKeyOf(11))}, false},
		{"fixed", map[string]string{fleetgen.NodePath(10): node(10, 100)}, false}, // after an invalid load: in full
		{"a weight again", map[string]string{fleetgen.NodePath(12): node(12, 3)}, true},
		{"the same host and port as another node", map[string]string{fleetgen.NodePath(14): edit(14, "host: "+hostOf(14), "host: "+hostOf(16))}, false},
		{"fixed again", map[string]string{fleetgen.NodePath(14): node(14, 100)}, false},
		{"an unknown zone", map[string]string{fleetgen.NodePath(20): edit(20, "zone: z00", "zone: mars")}, false},
		{"back", map[string]string{fleetgen.NodePath(20): node(20, 100)}, false},
		{"a renamed node (file moved, name changed)", map[string]string{
			fleetgen.NodePath(30): "", "nodes/renamed-30.yaml": edit(30, "name: "+fleetgen.NodeName(30), "name: renamed-30"),
		}, true},
		{"a name that does not match its file", map[string]string{fleetgen.NodePath(31): edit(31, "name: "+fleetgen.NodeName(31), "name: other-31")}, false},
		{"back once more", map[string]string{fleetgen.NodePath(31): node(31, 100)}, false},
		{"two files of one node name", map[string]string{"nodes/copy.yaml": edit(32, "weight: 100", "weight: 1")}, false},
		{"copy removed", map[string]string{"nodes/copy.yaml": ""}, false},
		{"a weight out of range", map[string]string{fleetgen.NodePath(33): node(33, 1000)}, false},
		{"in range", map[string]string{fleetgen.NodePath(33): node(33, 256)}, false},
		{"an unknown field", map[string]string{fleetgen.NodePath(34): node(34, 100) + "colour: blue\n"}, false},
		{"known fields only", map[string]string{fleetgen.NodePath(34): node(34, 100)}, false},
		{"a plaintext key in a node file", map[string]string{fleetgen.NodePath(35): node(35, 100) + "# -----BEGIN PRIVATE KEY-----\n"}, false},
		{"no key", map[string]string{fleetgen.NodePath(35): node(35, 100)}, false},
		{"a .yml file in nodes/", map[string]string{"nodes/x.yml": node(36, 1)}, false},
		{"the .yml file removed", map[string]string{"nodes/x.yml": ""}, false},
		{"a zone and a node at once", map[string]string{
			"zones/z00/zone.yaml": strings.Replace(seed["zones/z00/zone.yaml"], "\n", "\n# a comment\n", 1), fleetgen.NodePath(40): node(40, 9),
		}, false},
		{"nodes only again", map[string]string{fleetgen.NodePath(41): node(41, 9)}, true},
		{"a node state", map[string]string{fleetgen.NodePath(42): node(42, 100) + "state: drain\n"}, true},
		{"a node removed that nothing else names", map[string]string{fleetgen.NodePath(43): ""}, true},
		{"nothing changed in the tree", nil, true},
		{"more node files than an incremental load takes", manyWeights(maxIncremental+1, zones), false},
		{"then one", map[string]string{fleetgen.NodePath(44): node(44, 44)}, true},
		{"a node file over the size limit", map[string]string{fleetgen.NodePath(45): node(45, 100) + "# " + strings.Repeat("x", MaxFileBytes) + "\n"}, false},
		{"its normal size again", map[string]string{fleetgen.NodePath(45): node(45, 100)}, false},
		{"an alias-heavy node file", map[string]string{fleetgen.NodePath(46): "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n" + node(46, 100)}, false},
		{"plain again", map[string]string{fleetgen.NodePath(46): node(46, 100)}, false},
		{"and one more weight", map[string]string{fleetgen.NodePath(47): node(47, 7)}, true},
	}
	var c Cache
	for i, st := range steps {
		if i > 0 {
			write(st.files)
			gitCmd("add", "-A")
			gitCmd("commit", "-q", "--allow-empty", "-m", st.name)
		}
		if took := r.loadBoth(&c, st.name); took != st.incremental {
			t.Errorf("step %q: incremental path taken = %v, want %v", st.name, took, st.incremental)
		}
	}
}

// fleetDiff compares two loaded fleets: every object, and the files the
// position index knows.
func fleetDiff(a, b *Fleet) string {
	ka := slices.Sorted(mapsKeys(a.Source.files))
	kb := slices.Sorted(mapsKeys(b.Source.files))
	if !slices.Equal(ka, kb) {
		return fmt.Sprintf("source files %d vs %d", len(ka), len(kb))
	}
	for _, k := range ka {
		x, y := a.Source.files[k].build(), b.Source.files[k].build()
		if !reflect.DeepEqual(x.values, y.values) || !reflect.DeepEqual(x.keys, y.keys) || !reflect.DeepEqual(x.kinds, y.kinds) {
			return "the position index of " + k
		}
	}
	ac, bc := *a, *b
	ac.Source, bc.Source = Source{}, Source{}
	if len(ac.Nodes) != len(bc.Nodes) {
		return fmt.Sprintf("%d nodes vs %d", len(ac.Nodes), len(bc.Nodes))
	}
	for i := range ac.Nodes {
		if !reflect.DeepEqual(ac.Nodes[i], bc.Nodes[i]) {
			return fmt.Sprintf("node %d: %+v vs %+v", i, *ac.Nodes[i], *bc.Nodes[i])
		}
	}
	if !reflect.DeepEqual(ac, bc) {
		return "fleet objects other than nodes"
	}
	return ""
}

func mapsKeys(m map[string]*fileIndex) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// manyWeights changes or adds n node files.
func manyWeights(n, zones int) map[string]string {
	out := map[string]string{}
	for i := 100; i < 100+n && i < 300; i++ {
		out[fleetgen.NodePath(i)] = string(fleetgen.NodeFile(i, zones, 77))
	}
	for i := 0; len(out) < n; i++ {
		out[fleetgen.NodePath(300+i)] = string(fleetgen.NodeFile(300+i, zones, 77))
	}
	return out
}

// TestIncrementalLoadRandomChanges: 60 commits of random node edits
// (valid and not), each loaded both ways; the same fleet and errors.
func TestIncrementalLoadRandomChanges(t *testing.T) {
	const nodes, zones = 200, 2
	r := newFleetRepo(t, nodes, zones)
	dir, gitCmd := r.dir, r.git

	rng := rand.New(rand.NewPCG(11, 17))
	file := func(i int) string { return string(fleetgen.NodeFile(i, zones, 1+rng.IntN(200))) }
	valid := []func() (path, content string){
		func() (string, string) { i := rng.IntN(nodes); return fleetgen.NodePath(i), file(i) },                    // a weight
		func() (string, string) { i := nodes + rng.IntN(50); return fleetgen.NodePath(i), file(i) },               // an add (or a change)
		func() (string, string) { return fleetgen.NodePath(rng.IntN(nodes + 50)), "" },                            // a removal
		func() (string, string) { i := rng.IntN(nodes); return fleetgen.NodePath(i), file(i) + "state: maint\n" }, // a state
	}
	invalid := []func() (path, content string){
		func() (string, string) {
			i := rng.IntN(nodes)
			return fleetgen.NodePath(i), strings.Replace(file(i), "zone: z0", "zone: q0", 1)
		}, // a bad zone
		func() (string, string) { // another node's pubKey
			i, j := rng.IntN(nodes), rng.IntN(nodes)
			a, b := file(i), file(j)
			return fleetgen.NodePath(i), a[:strings.Index(a, "pubKey:")] + b[strings.Index(b, "pubKey:"):strings.Index(b, "providerId:")] + a[strings.Index(a, "providerId:"):]
		},
		func() (string, string) { i := rng.IntN(nodes); return fleetgen.NodePath(i), file(i) + "weight: 3\n" }, // a duplicate key
		func() (string, string) { i := rng.IntN(nodes); return fleetgen.NodePath(i), "kind: Node\nname: [\n" }, // a syntax error
	}
	var c Cache
	incremental := 0
	broken := map[string]int{} // path -> node index, files left invalid
	write := func(p, content string) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if content == "" {
			_ = os.Remove(full)
			return
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 60 {
		if rng.IntN(3) > 0 { // mostly, repair what is broken first
			for p, i := range broken {
				write(p, file(i))
			}
			clear(broken)
		}
		for range 1 + rng.IntN(3) {
			if rng.IntN(5) > 0 {
				p, content := valid[rng.IntN(len(valid))]()
				write(p, content)
				continue
			}
			p, content := invalid[rng.IntN(len(invalid))]()
			write(p, content)
			var i int
			if _, err := fmt.Sscanf(strings.TrimPrefix(p, "nodes/node-"), "%d", &i); err != nil {
				t.Fatal(err)
			}
			broken[p] = i
		}
		gitCmd("add", "-A")
		gitCmd("commit", "-q", "--allow-empty", "-m", fmt.Sprint(step))
		if r.loadBoth(&c, fmt.Sprint(step)) {
			incremental++
		}
	}
	if incremental < 10 { // 18 with this seed
		t.Errorf("only %d loads took the incremental path", incremental)
	}
	t.Logf("%d of 60 loads were incremental", incremental)
}

// fleetRepo is a git repository holding a fleetgen fleet, for loading
// commit after commit.
type fleetRepo struct {
	t    *testing.T
	dir  string
	seed map[string]string // the first commit's files
}

// newFleetRepo commits a fleet of nodes in zones to a new repository.
func newFleetRepo(t *testing.T, nodes, zones int) *fleetRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	gen, err := fleetgen.Generate(nodes, zones)
	if err != nil {
		t.Fatal(err)
	}
	r := &fleetRepo{t: t, dir: t.TempDir(), seed: map[string]string{}}
	for p, f := range gen {
		r.seed[p] = string(f.Data)
	}
	r.git("init", "-q", "-b", "main")
	r.write(r.seed)
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "seed")
	return r
}

// git runs git in the repository.
func (r *fleetRepo) git(args ...string) {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// write writes files into the work tree; "" removes one.
func (r *fleetRepo) write(files map[string]string) {
	r.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		if c == "" {
			if err := os.Remove(full); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// loadBoth loads the head through c and with Load, fails the test unless
// the errors and the fleets are the same, and reports whether c took the
// incremental path.
func (r *fleetRepo) loadBoth(c *Cache, step string) (incremental bool) {
	r.t.Helper()
	fsys, _, err := gittree.Open(r.dir, "main")
	if err != nil {
		r.t.Fatal(err)
	}
	before := 0
	if c.last != nil {
		before = c.last.incremental
	}
	got, gotErr := c.Load(fsys)
	incremental = c.last != nil && c.last.incremental == before+1
	want, wantErr := Load(fsys)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		r.t.Fatalf("step %s: Cache.Load error\n%v\nLoad error\n%v", step, gotErr, wantErr)
	}
	if wantErr == nil {
		if diff := fleetDiff(got, want); diff != "" {
			r.t.Fatalf("step %s: the fleets differ: %s", step, diff)
		}
	}
	return incremental
}

// TestIncrementalLoadShardedLayout: the incremental load of a fleet whose
// node files live in shard directories (nodeLayout: sharded) takes the
// same path as a flat one, and gives up where the full load has
// something to say (a file in the wrong shard, a flat file, a directory
// that is not a shard).
func TestIncrementalLoadShardedLayout(t *testing.T) {
	const nodes, zones = 300, 2
	r := newFleetRepo(t, nodes, zones)
	node := func(i, weight int) string { return string(fleetgen.NodeFile(i, zones, weight)) }
	sharded := func(i int) string { return NodeFile(NodeLayoutSharded, fleetgen.NodeName(i)) }
	// Another shard than node i's.
	wrongShard := func(i int) string {
		s := NodeShard(fleetgen.NodeName(i))
		other := "00"
		if s == other {
			other = "01"
		}
		return NodesDir + "/" + other + "/" + fleetgen.NodeName(i) + ".yaml"
	}
	move := map[string]string{FleetFile: r.seed[FleetFile] + "nodeLayout: sharded\n"}
	for i := range nodes {
		move[fleetgen.NodePath(i)] = ""
		move[sharded(i)] = node(i, 100)
	}
	steps := []struct {
		name        string
		files       map[string]string // "" removes
		incremental bool
		wantErr     string // in Load's error, when the step is invalid
	}{
		{"seed (flat)", nil, false, ""},
		{"every node moved to its shard", move, false, ""},
		{"one weight", map[string]string{sharded(7): node(7, 42)}, true, ""},
		{"a node added and one removed", map[string]string{sharded(nodes): node(nodes, 10), sharded(3): ""}, true, ""},
		{"a node in the wrong shard", map[string]string{sharded(8): "", wrongShard(8): node(8, 100)}, false, "is in the wrong place: with nodeLayout sharded"},
		{"back in its shard", map[string]string{wrongShard(8): "", sharded(8): node(8, 100)}, false, ""},
		{"another weight", map[string]string{sharded(9): node(9, 9)}, true, ""},
		{"a flat node file", map[string]string{sharded(10): "", fleetgen.NodePath(10): node(10, 100)}, false, "its file is " + sharded(10)},
		{"sharded again", map[string]string{fleetgen.NodePath(10): "", sharded(10): node(10, 100)}, false, ""},
		{"a directory that is not a shard", map[string]string{"nodes/zz/" + fleetgen.NodeName(nodes+1) + ".yaml": node(nodes+1, 1)}, false, "nodes/zz: unexpected directory"},
		{"that directory removed", map[string]string{"nodes/zz/" + fleetgen.NodeName(nodes+1) + ".yaml": ""}, false, ""},
		{"and one more weight", map[string]string{sharded(11): node(11, 11)}, true, ""},
	}
	var c Cache
	for i, st := range steps {
		if i > 0 {
			r.write(st.files)
			r.git("add", "-A")
			r.git("commit", "-q", "--allow-empty", "-m", st.name)
		}
		if took := r.loadBoth(&c, st.name); took != st.incremental {
			t.Errorf("step %q: incremental path taken = %v, want %v", st.name, took, st.incremental)
		}
		fsys, _, err := gittree.Open(r.dir, "main")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(fsys)
		if st.wantErr == "" && err != nil || st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)) {
			t.Errorf("step %q: Load = %v, want an error with %q", st.name, err, st.wantErr)
		}
	}
}
