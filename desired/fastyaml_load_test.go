package desired

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"
)

// loadResult is everything Load tells about a fleet, in comparable form.
type loadResult struct {
	errs   string
	fleet  *Fleet // Source cleared
	source map[string]indexDump
}

type indexDump struct {
	values map[string]Pos
	kinds  map[string]yaml.Kind
	keys   map[string]Pos
}

func loadWith(t *testing.T, l loader, fsys fstest.MapFS) loadResult {
	t.Helper()
	f, err := l.load(fsys)
	var r loadResult
	if err != nil {
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Load returned %T: %v", err, err)
		}
		r.errs = errs.Error()
	}
	if f != nil {
		r.source = dumpSource(f.Source)
		c := *f
		c.Source = Source{}
		r.fleet = &c
	}
	return r
}

// dumpSource builds every file index of s and returns their contents.
func dumpSource(s Source) map[string]indexDump {
	out := map[string]indexDump{}
	for file, idx := range s.files {
		idx.build()
		out[file] = indexDump{idx.values, idx.kinds, idx.keys}
	}
	return out
}

// checkLoadFast fails t when Load with the fast paths and Load with yaml.v3
// alone disagree on fsys: errors, decoded fleet, or field positions.
func checkLoadFast(t *testing.T, fsys fstest.MapFS) {
	t.Helper()
	got := loadWith(t, loader{}, fsys)
	want := loadWith(t, loader{yamlOnly: true}, fsys)
	if got.errs != want.errs {
		t.Fatalf("errors differ\nfast paths:\n%s\nyaml.v3 only:\n%s", got.errs, want.errs)
	}
	if !reflect.DeepEqual(got.fleet, want.fleet) {
		t.Fatalf("decoded fleets differ\nfast paths:\n%s\nyaml.v3 only:\n%s", dumpFleet(got.fleet), dumpFleet(want.fleet))
	}
	if !reflect.DeepEqual(got.source, want.source) {
		for file := range want.source {
			if !reflect.DeepEqual(got.source[file], want.source[file]) {
				t.Fatalf("positions in %s differ\nfast paths:\n%+v\nyaml.v3 only:\n%+v", file, got.source[file], want.source[file])
			}
		}
		t.Fatalf("indexed files differ: %d vs %d", len(got.source), len(want.source))
	}
}

func dumpFleet(f *Fleet) string {
	if f == nil {
		return "<nil>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", *f)
	for _, z := range f.Zones {
		fmt.Fprintf(&b, "zone %+v\n", *z)
	}
	for _, be := range f.Backends {
		fmt.Fprintf(&b, "backend %+v\n", *be)
	}
	for _, n := range f.Nodes {
		fmt.Fprintf(&b, "node %+v weight %v\n", *n, n.Weight)
	}
	return b.String()
}

// corpusFleets are the example fleet and each invalid corpus case.
func corpusFleets(t *testing.T) map[string]fstest.MapFS {
	t.Helper()
	base := readExamples(t)
	out := map[string]fstest.MapFS{"examples": base}
	cases, err := filepath.Glob("testdata/invalid/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range cases {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(file), ".txtar")] = overlay(t, base, parseTxtar(data))
	}
	return out
}

// TestLoadFastMatchesYAML loads the examples and every invalid corpus case
// with and without the fast paths: same errors, fleets and positions.
func TestLoadFastMatchesYAML(t *testing.T) {
	for name, fsys := range corpusFleets(t) {
		t.Run(name, func(t *testing.T) { checkLoadFast(t, fsys) })
	}
}

// fuzzTargets are the example files a FuzzLoadFile input replaces.
var fuzzTargets = []string{
	"nodes/eu-node-1.yaml", "backends/ddc_nodes_http.yaml", "zones/eu/zone.yaml", "fleet.yaml",
}

// FuzzLoadFile replaces one file of the example fleet by the input and
// checks Load with the fast paths against Load with yaml.v3 alone.
func FuzzLoadFile(f *testing.F) {
	base := readExamples(f)
	for i, file := range fuzzTargets {
		f.Add(uint8(i), base[file].Data)
	}
	cases, err := filepath.Glob("testdata/invalid/*.txtar")
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range parseTxtar(data).files {
			for i, file := range fuzzTargets {
				if s.name == file {
					f.Add(uint8(i), []byte(s.data))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		fsys := make(fstest.MapFS, len(base))
		for k, v := range base {
			fsys[k] = v
		}
		fsys[fuzzTargets[int(which)%len(fuzzTargets)]] = &fstest.MapFile{Data: data}
		checkLoadFast(t, fsys)
	})
}

// brokenFleet is bigFleet with every tenth node file broken in one of many
// ways, so errors come from many workers.
func brokenFleet(t *testing.T, n int) fstest.MapFS {
	t.Helper()
	fsys := bigFleet(t, n)
	breaks := []func(string) string{
		func(s string) string { return s + "color: blue\n" },                                    // unknown field
		func(s string) string { return s + "zone: eu\n" },                                       // duplicate key
		func(s string) string { return strings.Replace(s, "httpPort: 8080", "httpPort: x", 1) }, // type error
		func(s string) string { return s + "mode: [a\n" },                                       // syntax error
		func(s string) string { return strings.Replace(s, "kind: Node", "kind: Zone", 1) },      // wrong kind
		func(s string) string { return strings.Replace(s, "mode: storage", "mode: quick", 1) },  // validation
		func(s string) string { return "---\n" + s + "---\nkind: Node\n" },                      // two documents
		func(s string) string { return strings.Replace(s, "admitted: true", "admitted:\n  x: 1", 1) },
	}
	for i := 0; i < n; i += 10 {
		file := fmt.Sprintf("nodes/gen-node-%05d.yaml", i)
		fsys[file] = &fstest.MapFile{Data: []byte(breaks[(i/10)%len(breaks)](string(fsys[file].Data)))}
	}
	return fsys
}

// TestLoadParallelDeterministic checks that decoding node files on several
// workers gives the result of decoding them one after the other.
func TestLoadParallelDeterministic(t *testing.T) {
	fsys := brokenFleet(t, 1000)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	want := loadWith(t, loader{}, fsys)
	if strings.Count(want.errs, "\n") < 90 {
		t.Fatalf("the broken fleet has too few errors:\n%s", want.errs)
	}
	for _, procs := range []int{2, 4, 7} {
		runtime.GOMAXPROCS(procs)
		for range 3 {
			got := loadWith(t, loader{}, fsys)
			if got.errs != want.errs {
				t.Fatalf("GOMAXPROCS %d: errors differ from one worker's\ngot:\n%s\nwant:\n%s", procs, got.errs, want.errs)
			}
			if !reflect.DeepEqual(got.fleet, want.fleet) || !reflect.DeepEqual(got.source, want.source) {
				t.Fatalf("GOMAXPROCS %d: fleet or positions differ from one worker's", procs)
			}
		}
	}
	checkLoadFast(t, fsys)
}

// TestSourceConcurrentReaders asks a loaded fleet's Source for positions
// from many goroutines at once (run with -race): each file's index is built
// on first use, once, and every reader sees the same answers.
func TestSourceConcurrentReaders(t *testing.T) {
	fsys := brokenFleet(t, 200)
	f, _ := Decode(fsys)
	ref, _, _ := loader{yamlOnly: true}.decode(fsys)
	want := dumpSource(ref.Source)
	files := make([]string, 0, len(want))
	for file := range want {
		files = append(files, file)
	}
	sort.Strings(files)
	if len(files) < 150 {
		t.Fatalf("only %d files indexed", len(files))
	}
	type answer struct {
		pos, parent Pos
		has         bool
		keyPath     string
		fieldPath   string
	}
	ask := func(s Source, file string) answer {
		var a answer
		a.pos = s.Pos(file, "httpPort")
		a.parent = s.Pos(file, "nosuch.field")
		a.has = s.has(file, "admitted")
		a.keyPath, _, _ = s.KeyAt(file, 3, "pubKey")
		a.fieldPath, _, _ = s.FieldAt(file, 6, yaml.ScalarNode)
		return a
	}
	expect := map[string]answer{}
	for _, file := range files {
		expect[file] = ask(ref.Source, file)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range files {
				file := files[(i+g*len(files)/8)%len(files)]
				if got := ask(f.Source, file); got != expect[file] {
					errs <- fmt.Sprintf("%s: got %+v, want %+v", file, got, expect[file])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := dumpSource(f.Source); !reflect.DeepEqual(got, want) {
		t.Error("indexes built concurrently differ from yaml.v3's")
	}
	if p := f.Source.Pos("nodes/gen-node-00001.yaml", "host"); p != (Pos{6, 7}) {
		t.Errorf("Pos(host) = %v, want 6:7", p)
	}
}
