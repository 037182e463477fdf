package desired

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// diffNodes describes the first difference between the trees a (fastParse)
// and b (yaml.v3), comments excepted, or returns "".
func diffNodes(path string, a, b *yaml.Node) string {
	if a == nil || b == nil {
		if a != b {
			return fmt.Sprintf("%s: node %v vs %v", path, a, b)
		}
		return ""
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Style != b.Style ||
		a.Line != b.Line || a.Column != b.Column || a.Anchor != b.Anchor || a.Alias != nil || b.Alias != nil {
		return fmt.Sprintf("%s: fast {kind %d tag %s value %q style %d at %d:%d} vs yaml.v3 {kind %d tag %s value %q style %d at %d:%d anchor %q}",
			path, a.Kind, a.Tag, a.Value, a.Style, a.Line, a.Column, b.Kind, b.Tag, b.Value, b.Style, b.Line, b.Column, b.Anchor)
	}
	if len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: %d children vs %d", path, len(a.Content), len(b.Content))
	}
	for i := range a.Content {
		if d := diffNodes(fmt.Sprintf("%s/%d", path, i), a.Content[i], b.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// checkFast fails t when fastParse accepts data but yaml.v3 rejects it or
// builds another tree. It reports whether the fast path accepted data.
func checkFast(t *testing.T, data []byte) bool {
	t.Helper()
	got, ok := fastParse(data)
	if !ok {
		if got != nil {
			t.Fatalf("fastParse declined %q but returned a tree", data)
		}
		p := fastParsers.Get().(*fastParser)
		defer p.release()
		if _, flat := p.parseFlat(string(data)); flat {
			t.Fatalf("parseFlat takes %q, which fastParse declines", data)
		}
		return false
	}
	var want yaml.Node
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatalf("fastParse accepted %q, which yaml.v3 rejects: %v", data, err)
	}
	if d := diffNodes("", got, &want); d != "" {
		t.Fatalf("fastParse(%q) differs from yaml.v3: %s", data, d)
	}
	checkFlatEntries(t, data, got)
	return true
}

// checkFlatEntries fails t when parseFlat accepts data but its entries are
// not the key and value nodes of tree, fastParse's tree of data.
func checkFlatEntries(t *testing.T, data []byte, tree *yaml.Node) {
	t.Helper()
	p := fastParsers.Get().(*fastParser)
	defer p.release()
	entries, ok := p.parseFlat(string(data))
	if !ok {
		return
	}
	m := tree.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2*len(entries) {
		t.Fatalf("parseFlat(%q) takes a document that is not a mapping of %d keys", data, len(entries))
	}
	for i, e := range entries {
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: e.keyTag, Value: e.key, Line: e.line, Column: e.keyCol}
		v := &yaml.Node{Kind: yaml.ScalarNode, Tag: e.valueTag(), Value: e.value, Style: e.style, Line: e.line, Column: e.valCol}
		if e.valueIsNull() != (v.Tag == "!!null") {
			t.Fatalf("parseFlat(%q): value %d: valueIsNull %v, tag %s", data, i, e.valueIsNull(), v.Tag)
		}
		if d := diffNodes(fmt.Sprintf("key %d", i), k, m.Content[2*i]) + diffNodes(fmt.Sprintf("value %d", i), v, m.Content[2*i+1]); d != "" {
			t.Fatalf("parseFlat(%q) differs from fastParse: %s", data, d)
		}
	}
}

// fastSeeds are the example fleet's files, every file section of the
// invalid corpus, and hand-written edge cases.
func fastSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	err := fs.WalkDir(os.DirFS(examplesDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(filepath.Join(examplesDir, p))
		seeds = append(seeds, data)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	cases, err := filepath.Glob("testdata/invalid/*.txtar")
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range cases {
		data, err := os.ReadFile(c)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range parseTxtar(data).files {
			if f.name != "want" && !strings.HasSuffix(f.name, ".delete") {
				seeds = append(seeds, []byte(f.data))
			}
		}
	}
	for _, tt := range fastCases {
		seeds = append(seeds, []byte(tt.in))
	}
	var b strings.Builder
	for i, v := range tagValues {
		fmt.Fprintf(&b, "k%d: %s\n", i, v)
	}
	seeds = append(seeds, []byte(b.String()))
	return seeds
}

// fastCases are edge cases, with whether the fast path takes them.
var fastCases = []struct {
	name, in string
	fast     bool
}{
	{"flat", "kind: Node\nname: n1\nport: 8080\nssl: false\n", true},
	{"modeline and comments", "# yaml-language-server: $schema=x.json\n\nkind: Node # the kind\n  # indented comment\nname: n1\n", true},
	{"no final newline", "a: 1", true},
	{"trailing blanks", "a: 1   \nb:   x y  \n", true},
	{"indented top", "  a: 1\n  b: 2\n", true},
	{"nested mapping", "a:\n  b: 1\n  c:\n    d: x\ne: 2\n", true},
	{"comment after key", "a: # c\n  b: 1\n", true},
	{"comment dedented", "a:\n  b: 1\n# c\n  c: 2\n", true},
	{"null values", "a:\nb: ~\nc: null\nd:\n  e:\n", true},
	{"sequence", "a:\n  - 1\n  - x\n  -\n  - b: 2\n    c: 3\n", true},
	{"indentless sequence", "a:\n- x: 1\n  y:\n- 2\nd: 4\n", true},
	{"sequence in sequence item", "- a:\n  - 1\n  - 2\n  b: 3\n", true},
	{"dash then block", "-\n  a: 1\n- x\n", true},
	{"quoted", "a: 'x y'\nb: \"1\" # c\nc: ''\nd: \"it's\"\n", true},
	{"numbers", "a: 0x1F\nb: 1_000\nc: 0o17\nd: 017\ne: -1\nf: +2\ng: 1.5\nh: .5\ni: 1e3\nj: .inf\nk: -.Inf\nl: .nan\nm: 0b101\nn: -0b11\no: 99999999999999999999\np: 0x1ec1c32f22d314cb8c0f355c7341c7ecbf3717ada2530183c6d4b87c352f2dce\n", true},
	{"bools and nulls", "a: true\nb: False\nc: yes\nd: on\ne: NULL\nf: Null\ng: nULL\n", true},
	{"timestamps", "a: 2001-01-01\nb: 2001-1-2T3:4:5Z\nc: 2001-13-01\nd: 200-01-01\n", true},
	{"merge value", "a: <<\n", true},
	{"keys that resolve", "1: a\ntrue: b\nnull: c\n2001-01-01: d\n", true},
	{"flow sequences", "a: [x, y]\nb: [ 1 ,b ] # c\nc: []\nd:\n  - [x]\n  - [ ]\ne:\n  [z]\n", true},
	{"flow-ish plain", "a: x[1]{2},3\nb: a#b\nc: a:b\nd: -x\ne: ---\n", true},
	{"indented dashes", "a:\n  ---\n", true},
	{"lone scalar", "abc\n", true},
	{"lone scalar in mapping", "a:\n  abc\nb: 1\n", true},

	{"empty", "", false},
	{"only comments", "# a\n\n# b\n", false},
	{"document marker", "---\na: 1\n", false},
	{"two documents", "a: 1\n---\nb: 2\n", false},
	{"document end", "a: 1\n...\n", false},
	{"directive", "%YAML 1.2\n---\na: 1\n", false},
	{"tab", "a:\t1\n", false},
	{"carriage return", "a: 1\r\n", false},
	{"non-ASCII", "a: é\n", false},
	{"flow sequence trailing comma", "a: [x, y,]\n", false},
	{"flow sequence quoted", "a: ['x']\n", false},
	{"flow sequence nested", "a: [[x]]\n", false},
	{"flow sequence multi-line", "a: [x,\n  y]\n", false},
	{"flow sequence key", "[x]: 1\n", false},
	{"flow mapping", "a: {x: 1}\n", false},
	{"anchor", "a: &x 1\nb: *x\n", false},
	{"tag", "a: !!str 1\n", false},
	{"literal", "a: |\n  x\n", false},
	{"folded", "a: >\n  x\n", false},
	{"multi-line plain", "a: x\n  y\n", false},
	{"multi-line quoted", "a: 'x\n  y'\n", false},
	{"escape", "a: \"x\\ny\"\n", false},
	{"quote escape", "a: 'it''s'\n", false},
	{"mapping in value", "a: b: c\n", false},
	{"colon at end", "a: b:\n", false},
	{"bad indent", "a:\n    b: 1\n  c: 2\n", false},
	{"over-indented", "a: 1\n  b: 2\n", false},
	{"dash in mapping", "a: 1\n- b\n", false},
	{"nested dash", "- - a\n", false},
	{"key with space", "a b: 1\n", false},
	{"quoted key", "\"a\": 1\n", false},
	{"long key", strings.Repeat("k", 200) + ": 1\n", false},
	{"complex key", "? a\n: 1\n", false},
	{"text after quote", "a: 'x'y\n", false},
	{"unterminated quote", "a: 'x\n", false},
	{"bad top", "a: 1\nb\n", false},
	{"dedent to nowhere", "  a: 1\nb: 2\n", false},
}

// tagValues are plain scalars whose tags take yaml.v3's resolver through
// each of its branches, and the shortcuts of quickNumberTag.
var tagValues = []string{
	"0", "7", "08", "0123", "017", "-1", "+1", "-0", "1_000", "_1", "1_", "1__0",
	"999999999999999999", "9999999999999999999", "99999999999999999999", "-9223372036854775808", "-9223372036854775809",
	"0x", "0x1F", "0X1F", "0x_1F", "0xffffffffffffffff", "0x10000000000000000", "0x00000000000000001", "0x0000000000000000000001",
	"0x1ec1c32f22d314cb8c0f355c7341c7ecbf3717ada2530183c6d4b87c352f2dce", "0x1EC1C32F22D314CB8C0F355C7341C7ECBF3717ADA2530183C6D4B87C352F2DCE",
	"0b101", "-0b101", "0b", "0b2", "0o17", "-0o17", "0o8", "0o", "0O17", "0B1",
	"9.223372036854775807e18", "9223372036854775808.0", "-9223372036854775809.5", "1e19", "-1e19", "1e400",
	"1.5", "1.", ".5", "-.5", "+.5", "1e3", "1E+3", "1e", "1.5e-3", "1.2.3", "198.18.1.21", "1..2", "1.5.", "1_0.5", "0x1p-2", "1f", "1d", "1e3e3",
	".inf", "+.inf", "-.Inf", ".NaN", ".nan", "-.nan", ".x", ".", "..", ".1.2",
	"2001-01-01", "2001-1-1", "2001-13-01", "2001-01-01T10:00:00Z", "2001-01-01t10:00:00Z", "2001-01-01 10:00:00", "2001-01-01 10:00:00.5", "20011-01-01", "2001-", "1-2",
	"true", "True", "TRUE", "tRUE", "false", "yes", "no", "on", "off", "y", "n", "~", "null", "Null", "NULL", "nULL", "NaN", "inf",
	"+", "-a", "+a", "8080/tcp", "10s", "1h", "1:2", "12:30:00", "1/2", "v1", "a", "<<",
}

// TestPlainTag checks the resolver port against yaml.v3 on tagValues.
func TestPlainTag(t *testing.T) {
	for _, v := range tagValues {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte("a: "+v+"\n"), &n); err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		want := n.Content[0].Content[1].Tag
		got := plainTag(v)
		if v == "<<" {
			got = "!!merge" // set by the parser, as yaml.v3 does
		}
		if got != want {
			t.Errorf("plainTag(%q) = %s, yaml.v3 says %s", v, got, want)
		}
	}
}

func TestFastParse(t *testing.T) {
	for _, tt := range fastCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkFast(t, []byte(tt.in)); got != tt.fast {
				t.Errorf("fast path taken: %v, want %v", got, tt.fast)
			}
		})
	}
}

// TestFastParseCorpus checks the fast path against yaml.v3 on every seed and
// that it takes every example file, so Load of a real fleet uses it.
func TestFastParseCorpus(t *testing.T) {
	for _, data := range fastSeeds(t) {
		checkFast(t, data)
	}
	err := fs.WalkDir(os.DirFS(examplesDir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(filepath.Join(examplesDir, p))
		if err != nil {
			return err
		}
		if _, ok := fastParse(data); !ok {
			t.Errorf("fast path declines %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzFastYAML is the differential test of the fast path: on any input,
// fastParse either declines or builds exactly yaml.v3's tree for input that
// yaml.v3 accepts.
func FuzzFastYAML(f *testing.F) {
	for _, s := range fastSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast(t, data)
	})
}

// flatValues are field values for the decodeFlat differential tests: every
// tag, quoting, null, and the collections a scalar field must refuse.
func flatValues() []string {
	vals := append([]string{}, tagValues...)
	return append(vals, "", "~", "'q'", "'80'", "\"true\"", "\"\"", "yes", "No", "ON", "off", "Y", "n",
		"[]", "[a, 1]", "\n  a: 1", "\n  a: 1\n  a: 2\n  b: 3\n  a: 4", "\n  - 1\n  - 2", "\n- x",
		"0x1ec1c32f22d314cb8c0f355c7341c7ecbf3717ada2530183c6d4b87c352f2dce", "198.19.0.1", "node-00001.ddc.example")
}

// checkDecodeFlat fails t when decodeFlat and yaml.v3's Decode disagree on
// a fast-parsed document: decoded values (into a fresh Node and into one
// already filled) and type error messages.
func checkDecodeFlat(t *testing.T, data []byte) {
	t.Helper()
	docA, ok := fastParse(data)
	if !ok || docA.Content[0].Kind != yaml.MappingNode {
		return
	}
	docB, _ := fastParse(data)
	var errsA, errsB Errors
	checkFields("f", docA.Content[0], reflect.TypeOf(Node{}), "", &errsA)
	checkFields("f", docB.Content[0], reflect.TypeOf(Node{}), "", &errsB)
	seven := 7
	for _, fresh := range []bool{true, false} {
		var a, b Node
		if !fresh {
			w1, w2 := seven, seven
			a = Node{Name: "pre", SSL: true, HTTPPort: 1, Weight: &w1}
			b = Node{Name: "pre", SSL: true, HTTPPort: 1, Weight: &w2}
		}
		var want []string
		if err := docA.Content[0].Decode(&a); err != nil {
			te, ok := err.(*yaml.TypeError)
			if !ok {
				t.Fatalf("yaml.v3 fails on fast-parsed %q: %v", data, err)
			}
			want = te.Errors
		}
		got, ok := decodeFlat(docB.Content[0], &b)
		if !ok {
			t.Fatal("decodeFlat does not take a Node")
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("decoding %q: decodeFlat errors\n\t%s\nyaml.v3 errors\n\t%s", data, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decoding %q: decodeFlat gives\n%+v\nyaml.v3 gives\n%+v", data, b, a)
		}
	}
}

// checkDecodeFlatFile fails t when decodeFlatFile takes data but finds
// other errors or decodes other values than decoding the node tree does.
func checkDecodeFlatFile(t *testing.T, data []byte) bool {
	t.Helper()
	var a, b Node
	got, ok := decodeFlatFile("n.yaml", string(data), KindNode, &a)
	if !ok {
		return false
	}
	if _, fast := fastParse(data); !fast {
		t.Fatalf("decodeFlatFile takes %q, which fastParse declines", data)
	}
	want := loader{}.decodeTree("n.yaml", data, string(data), KindNode, &b)
	if got.ok != want.ok || got.errs.Error() != want.errs.Error() {
		t.Fatalf("decoding %q: flat path (ok %v):\n%v\ntree path (ok %v):\n%v", data, got.ok, got.errs, want.ok, want.errs)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("decoding %q: flat path gives\n%+v\ntree path gives\n%+v", data, a, b)
	}
	return true
}

// nodeKeys are the YAML keys of Node, plus one it does not have.
func nodeKeys() []string {
	keys := []string{"unknown"}
	for k := range flatStructs[reflect.TypeOf(Node{})].keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestDecodeFlat checks decodeFlat against yaml.v3 for every value of
// flatValues in every field of a node.
func TestDecodeFlat(t *testing.T) {
	if len(nodeKeys()) < 16 {
		t.Fatalf("Node is not flat any more (keys %q): decodeFlat no longer serves node files", nodeKeys())
	}
	for typ, flat := range flatStructs {
		fields := yamlFields(typ)
		if len(fields) != len(flat.keys) {
			t.Errorf("%s: flat fields %d, yamlFields %d", typ, len(flat.keys), len(fields))
		}
		for k := range flat.keys {
			if _, ok := fields[k]; !ok {
				t.Errorf("%s: flat field %q is not in yamlFields", typ, k)
			}
		}
	}
	var data [][]byte
	for _, key := range nodeKeys() {
		for _, v := range flatValues() {
			data = append(data, []byte("kind: Node\n"+key+": "+v+"\nname: n\n"))
		}
	}
	data = append(data, fastSeeds(t)...)
	// Keys that resolve to other tags, null keys, duplicates, kinds.
	data = append(data, []byte("null: 1\ntrue: 2\n1: 3\nname: a\nname: b\nweight: 3\nweight: ~\n"),
		[]byte("kind: Zone\nkind: Node\n"), []byte("kind:\nname: x\n"), []byte("Kind: Node\nnmae: x\n"))
	var keys strings.Builder
	for i := range 40 {
		fmt.Fprintf(&keys, "k%d: %d\nname: n%d\n", i, i, i)
	}
	data = append(data, []byte(keys.String()))
	flat := 0
	for _, d := range data {
		checkDecodeFlat(t, d)
		if checkDecodeFlatFile(t, d) {
			flat++
		}
	}
	if flat < len(data)/2 {
		t.Errorf("the flat path took only %d of %d documents", flat, len(data))
	}
}

// FuzzDecodeFlat is the differential test of decodeFlat against yaml.v3.
func FuzzDecodeFlat(f *testing.F) {
	for _, data := range fastSeeds(f) {
		f.Add(data)
	}
	for _, v := range flatValues() {
		var b strings.Builder
		for _, key := range nodeKeys() {
			b.WriteString(key + ": " + v + "\n")
		}
		f.Add([]byte(b.String()))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeFlat(t, data)
		checkDecodeFlatFile(t, data)
	})
}

// BenchmarkDecodeNodeFile decodes one generated node file, through the fast
// path and through yaml.v3 (as every file was decoded before the fast path).
func BenchmarkDecodeNodeFile(b *testing.B) {
	data := bigFleet(b, 1)["nodes/gen-node-00000.yaml"].Data
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if r := (loader{}).decodeBytes("n.yaml", data, KindNode, &Node{}); !r.ok {
				b.Fatal(r.errs)
			}
		}
	})
	b.Run("yaml.v3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var root yaml.Node
			if err := yaml.Unmarshal(data, &root); err != nil {
				b.Fatal(err)
			}
			var n Node
			if err := root.Content[0].Decode(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// yamlFragments are the pieces grammarDoc builds documents from: enough
// structure (indentation, keys, dashes, newlines) that most documents are
// YAML the fast paths take, and every kind of token they must refuse.
var yamlFragments = []string{
	"\n", "\n", "\n", "\n", "  ", "  ", "    ", " ", "- ", "- ", "-", "-\n",
	"kind: ", "name: ", "weight: ", "ssl: ", "httpPort: ", "a: ", "b: ", "a:", "b:\n", "k1: ", "unknown: ", "Name: ",
	"kind: Node\n", "name: n1\n", "weight: 7\n", "a: 1\n", "  a: 1\n", "- a: 1\n", "  - x\n",
	": ", ":", "#c", " # c", " #", "'", "\"", "''", "x", "y", "1", "0", "08", "0x1F", "0x1ec1c32f22d314cb8c0f355c7341c7ec",
	"~", "null", "Null", "true", "False", "yes", "off", "1.5", ".5", ".inf", "-.inf", ".nan", "1e3", "1_000", "0o17", "0b11", "-1", "+1",
	"2001-01-01", "198.18.1.1", "10s", "a b", "a:b", "a#b", "<<", "[", "]", "[a, b]", "[]", ", ", "{", "}", "{a: 1}",
	"&a ", "*a", "!!str ", "!", "|", ">", "? ", "%", "@", "`", "\t", "\r", "---", "...", "--- ", "é", "\\", "_",
	"'it''s'", "\"a\\nb\"", "'q'", "\"q\"", strings.Repeat("k", 130),
}

// safeFragments are the yamlFragments the fast paths can take, alone.
var safeFragments = []string{
	"\n", "\n", "\n", "  ", "  ", "    ", "- ", "kind: ", "name: ", "weight: ", "ssl: ", "httpPort: ", "a: ", "b:",
	"kind: Node\n", "name: n1\n", "weight: 7\n", "a: 1\n", "  a: 1\n", "- a: 1\n", "  - x\n", "x", "1", "~", "true",
	"yes", "1.5", "0x1F", " # c", "'q'", "\"q\"", "[a, b]", "[]", "198.18.1.1",
}

// grammarDoc turns fuzz bytes into a document: most bytes pick one of
// safeFragments, the others one of yamlFragments.
func grammarDoc(choices []byte) []byte {
	var b []byte
	for _, c := range choices {
		if c < 192 {
			b = append(b, safeFragments[int(c)%len(safeFragments)]...)
		} else {
			b = append(b, yamlFragments[int(c)%len(yamlFragments)]...)
		}
	}
	return b
}

// checkAllFast runs every differential check on data.
func checkAllFast(t *testing.T, data []byte) {
	t.Helper()
	checkFast(t, data)
	checkDecodeFlat(t, data)
	checkDecodeFlatFile(t, data)
}

// TestFastPathsRandomDocs runs the differential checks on many documents
// built at random (with a fixed seed) from yamlFragments, and checks that
// the fast paths take a fair share of them.
func TestFastPathsRandomDocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n, fast := 20000, 0
	if testing.Short() {
		n = 2000
	}
	choices := make([]byte, 0, 40)
	for range n {
		choices = choices[:0]
		for range 1 + rng.IntN(12) {
			choices = append(choices, byte(rng.IntN(256)))
		}
		data := grammarDoc(choices)
		checkAllFast(t, data)
		if _, ok := fastParse(data); ok {
			fast++
		}
	}
	if fast < n/10 {
		t.Errorf("the fast path took only %d of %d random documents", fast, n)
	}
	t.Logf("the fast path took %d of %d random documents", fast, n)
}

// FuzzFastYAMLGrammar is FuzzFastYAML and FuzzDecodeFlat on documents
// built from yamlFragments, which reach the fast paths far more often than
// raw bytes do.
func FuzzFastYAMLGrammar(f *testing.F) {
	f.Add([]byte{12, 3, 13, 1})
	f.Add([]byte{17, 0, 4, 8, 19, 0})
	f.Fuzz(func(t *testing.T, choices []byte) {
		checkAllFast(t, grammarDoc(choices))
	})
}

// TestFastParseDepth checks that deep nesting is declined, not recursed into.
func TestFastParseDepth(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "%s- k%d:\n", strings.Repeat("  ", i), i)
	}
	data := []byte("a:\n" + b.String())
	if checkFast(t, data) {
		t.Error("the fast path takes 200 levels of nesting")
	}
	var want yaml.Node
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatalf("the deep document is not YAML: %v", err)
	}
}
