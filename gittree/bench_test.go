package gittree_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// fleetRepo makes a repository holding examples/fleet plus n generated node
// files; packed runs git gc so objects are in a pack file, as in a clone.
func fleetRepo(b *testing.B, n int, packed bool) string {
	b.Helper()
	dir := b.TempDir()
	src, err := filepath.Abs("../examples/fleet")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		zone := "eu"
		if i%2 == 1 {
			zone = "us"
		}
		name := fmt.Sprintf("gen-node-%05d", i)
		body := fmt.Sprintf(`kind: Node
name: %s
pubKey: 0x%064x
providerId: 0x70d1be8f9b41cfa0d17daea081dd8ef08fd980b4edd9e9fdedce054d79d1f77e
clusterId: 0x67424cc500a0532b2ca4e63d681a279809170593
host: 198.19.%d.%d
domain: %s.ddc.example
ssl: false
httpPort: 8080
grpcPort: 9091
p2pPort: 9070
mode: storage
zone: %s
weight: 100
admitted: true
`, name, i+1, i/250, i%250+1, name, zone)
		if err := os.WriteFile(filepath.Join(dir, "nodes", name+".yaml"), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	git(b, dir, "init", "-q", "-b", "main")
	git(b, dir, "config", "gc.auto", "0") // no background gc racing the explicit one
	git(b, dir, "add", "-A")
	git(b, dir, "commit", "-q", "-m", "fleet")
	if packed {
		git(b, dir, "gc", "-q")
	}
	return dir
}

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs body b.N times and reports CPU milliseconds per op besides the
// wall time: on a shared machine the CPU figure is the steadier one.
func loop(b *testing.B, body func()) {
	start := cpuTime(b)
	for b.Loop() {
		body()
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkLoad compares desired.Load over a plain directory with
// gittree.Open plus desired.Load over the same fleet committed to git, for
// 10,000 nodes.
func BenchmarkLoad(b *testing.B) {
	const nodes = 10000
	for _, packed := range []bool{false, true} {
		repo := fleetRepo(b, nodes, packed)
		kind := "loose"
		if packed {
			kind = "packed"
		}
		if !packed {
			// Plain reading: every file of the checkout, read from disk.
			b.Run("read-dirfs", func(b *testing.B) {
				loop(b, func() {
					n := 0
					err := fs.WalkDir(os.DirFS(repo), ".", func(p string, d fs.DirEntry, err error) error {
						if err != nil || d.IsDir() {
							if d != nil && d.Name() == ".git" {
								return fs.SkipDir
							}
							return err
						}
						_, err = fs.ReadFile(os.DirFS(repo), p)
						n++
						return err
					})
					if err != nil || n < nodes {
						b.Fatal(n, err)
					}
				})
			})
			b.Run("load-dirfs", func(b *testing.B) {
				loop(b, func() {
					f, err := desired.Load(os.DirFS(repo))
					if f == nil || len(f.Nodes) < nodes {
						b.Fatalf("loaded %v: %v", f, err)
					}
				})
			})
			// Load alone over an already built tree (what the agent does
			// with a Snapshot).
			fsys, _, err := gittree.Open(repo, "main")
			if err != nil {
				b.Fatal(err)
			}
			b.Run("load-gittree", func(b *testing.B) {
				loop(b, func() {
					f, err := desired.Load(fsys)
					if f == nil || len(f.Nodes) < nodes {
						b.Fatalf("loaded %v: %v", f, err)
					}
				})
			})
		}
		b.Run("open-"+kind, func(b *testing.B) {
			loop(b, func() {
				fsys, _, err := gittree.Open(repo, "main")
				if err != nil || fsys.Len() < nodes {
					b.Fatal(err)
				}
			})
		})
		b.Run("open+load-"+kind, func(b *testing.B) {
			loop(b, func() {
				fsys, _, err := gittree.Open(repo, "main")
				if err != nil {
					b.Fatal(err)
				}
				f, err := desired.Load(fsys)
				if f == nil || len(f.Nodes) < nodes {
					b.Fatalf("loaded %v: %v", f, err)
				}
			})
		})
	}
}
