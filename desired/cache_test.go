package desired

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// hashedFS is a MapFS that names contents by their SHA-256, as git names
// blobs (a BlobHasher).
type hashedFS struct{ fstest.MapFS }

func (h hashedFS) BlobHash(name string) (string, bool) {
	f, ok := h.MapFS[name]
	if !ok || f.Mode.IsDir() {
		return "", false
	}
	sum := sha256.Sum256(f.Data)
	return hex.EncodeToString(sum[:]), true
}

func exampleMapFS(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS("../examples/fleet"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(os.DirFS("../examples/fleet"), p)
		m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCacheLoadsLikeLoad: through a series of changes, Cache.Load returns
// what Load returns, and shares only the nodes whose files did not change.
func TestCacheLoadsLikeLoad(t *testing.T) {
	m := exampleMapFS(t)
	var c Cache
	node1 := m["nodes/eu-node-1.yaml"].Data
	steps := []struct {
		name string
		edit func(m fstest.MapFS)
	}{
		{"first load", func(fstest.MapFS) {}},
		{"unchanged", func(fstest.MapFS) {}},
		{"one weight", func(m fstest.MapFS) {
			m["nodes/eu-node-1.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(node1), "weight: 100", "weight: 7", 1))}
		}},
		{"add and delete", func(m fstest.MapFS) {
			m["nodes/eu-node-9.yaml"] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(node1), "eu-node-1", "eu-node-9"))}
			delete(m, "nodes/eu-node-2.yaml")
		}},
		{"invalid node", func(m fstest.MapFS) {
			m["nodes/eu-node-3.yaml"] = &fstest.MapFile{Data: []byte("kind: Node\nname: eu-node-3\nweight: heavy\nbogus: 1\n")}
		}},
		{"still invalid, unchanged", func(fstest.MapFS) {}},
		{"fixed", func(m fstest.MapFS) {
			delete(m, "nodes/eu-node-3.yaml")
		}},
		{"same contents at another path", func(m fstest.MapFS) {
			m["nodes/eu-node-1b.yaml"] = m["nodes/eu-node-1.yaml"] // wrong name: an error naming the new file
		}},
	}
	var prev *Fleet
	for _, st := range steps {
		st.edit(m)
		fsys := hashedFS{m}
		want, wantErr := Load(fsys)
		got, gotErr := c.Load(fsys)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
			t.Fatalf("%s: error %v, want %v", st.name, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got.Nodes, want.Nodes) || !reflect.DeepEqual(got.Backends, want.Backends) || !reflect.DeepEqual(got.Zones, want.Zones) {
			t.Fatalf("%s: nodes differ from Load's", st.name)
		}
		if prev != nil {
			old := map[string]*Node{}
			for _, n := range prev.Nodes {
				old[n.File] = n
			}
			for _, n := range got.Nodes {
				o := old[n.File]
				h1, _ := fsys.BlobHash(n.File)
				shared := o == n
				if o != nil && shared != reflect.DeepEqual(*o, *n) {
					t.Errorf("%s: %s shared %v, but changed %v (hash %s)", st.name, n.File, shared, !reflect.DeepEqual(*o, *n), h1[:8])
				}
			}
		}
		if gotErr == nil {
			prev = got
		}
	}
	// Without a BlobHasher every load decodes everything.
	var c2 Cache
	a, _ := c2.Load(m)
	b, _ := c2.Load(m)
	if a.Nodes[0] == b.Nodes[0] {
		t.Error("a file system without blob hashes shared a node between loads")
	}
}

// BenchmarkCacheLoadOneChange10k: a load through a Cache of a 10,000-node
// fleet in which one node file changed since the previous load.
func BenchmarkCacheLoadOneChange10k(b *testing.B) {
	m := bigFleet(b, 10000)
	var c Cache
	if _, err := c.Load(hashedFS{m}); err != nil {
		b.Fatal(err)
	}
	p := "nodes/gen-node-00042.yaml"
	orig := string(m[p].Data)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		w := "weight: " + strconv.Itoa(1+i%50) + "\n"
		m[p] = &fstest.MapFile{Data: []byte(strings.Replace(orig, "weight: 100\n", w, 1))}
		if _, err := c.Load(hashedFS{m}); err != nil {
			b.Fatal(err)
		}
	}
}
