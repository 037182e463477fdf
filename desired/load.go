package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"gopkg.in/yaml.v3"
)

// Well-known paths inside a fleet tree.
const (
	FleetFile   = "fleet.yaml"
	ZonesDir    = "zones"
	ZoneFile    = "zone.yaml"
	BackendsDir = "backends"
	NodesDir    = "nodes"
)

// Load reads, defaults and validates the fleet in fsys. On any problem it
// returns Errors listing every one of them. A file with a syntax error, a
// value of the wrong type or the wrong kind is left out of validation (its
// decode errors are reported, and references to its object are not reported
// again as dangling); unknown fields and duplicate keys do not stop the rest
// of the file from being validated.
//
// Load reads fsys from the calling goroutine only, and decodes large
// directories (nodes/) on up to GOMAXPROCS goroutines; the result does not
// depend on how many.
func Load(fsys fs.FS) (*Fleet, error) {
	return loader{}.load(fsys)
}

// loader is how Load and Decode decode files. The zero value takes the fast
// paths (fastyaml.go) for the files they can take; yamlOnly decodes every
// file with yaml.v3 alone, as the loader did before them, for tests that
// check the fast paths against it.
type loader struct {
	yamlOnly bool
	cache    *Cache // node files decoded by an earlier load, or nil
}

func (l loader) load(fsys fs.FS) (*Fleet, error) {
	f, _, err := l.loadIndexed(fsys)
	return f, err
}

// loadIndexed is load that also returns, for a valid fleet, the node
// indexes its validation built.
func (l loader) loadIndexed(fsys fs.FS) (*Fleet, *nodeIndex, error) {
	f, errs, b := l.decode(fsys)
	if len(errs) > MaxErrors {
		// Enough to fix first: validating the rest would only add more.
		return f, nil, capErrors(errs, MaxErrors, "")
	}
	var idx *nodeIndex
	if f != nil {
		errs = append(errs, dropNulls(f)...)
		SetDefaults(f)
		var verrs Errors
		verrs, idx = validateNodes(f, b, nil, f.Nodes)
		errs = append(errs, verrs...)
	}
	errs = capErrors(errs, MaxErrors, "")
	if err := errs.Err(); err != nil {
		return f, nil, err
	}
	return f, idx, nil
}

// Decode strictly decodes every file of the fleet in fsys without defaults or
// validation, and reports every problem in Errors. Files that fail to decode
// (syntax, types, kind) are left out of the returned fleet; files whose only
// problems are unknown fields or duplicate keys are kept, without those keys.
// The fleet is nil only when fleet.yaml is missing or unreadable.
func Decode(fsys fs.FS) (*Fleet, Errors) {
	f, errs, _ := loader{}.decode(fsys)
	return f, errs
}

// decode is Decode that also tells which objects failed to decode.
func (l loader) decode(fsys fs.FS) (*Fleet, Errors, broken) {
	var errs Errors
	var src Source
	b := broken{zones: map[string]bool{}, backends: map[string]bool{}}
	f := &Fleet{}
	if !l.decodeFile(fsys, FleetFile, KindFleet, f, &src, &errs) {
		if _, err := fs.Stat(fsys, FleetFile); err != nil {
			if _, link := danglingLink(fsys, FleetFile); link {
				return nil, errs, b // decodeFile said where the link leads
			}
			return nil, append(errs, Error{File: FleetFile, Msg: "missing fleet file (every fleet directory has a fleet.yaml at its root)"}), b
		}
		b.fleet = true
	}

	zoneDirs, err := fs.ReadDir(fsys, ZonesDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, Error{File: ZonesDir, Msg: fmt.Sprintf("reading zones: %v", err)})
	}
	for _, d := range zoneDirs {
		p := path.Join(ZonesDir, d.Name())
		if !d.IsDir() {
			errs = append(errs, Error{File: p, Msg: "unexpected file: zones/ holds one directory per zone, each with a zone.yaml"})
			continue
		}
		entries, err := fs.ReadDir(fsys, p)
		if err != nil {
			errs = append(errs, Error{File: p, Msg: fmt.Sprintf("reading zone directory: %v", err)})
			b.zones[d.Name()] = true
			continue
		}
		seen := false
		for _, e := range entries {
			if e.Name() == ZoneFile {
				seen = true
				continue
			}
			if isYAML(e.Name()) {
				errs = append(errs, Error{File: path.Join(p, e.Name()), Msg: "unexpected file: a zone directory holds only zone.yaml"})
			}
		}
		if !seen {
			errs = append(errs, Error{File: p, Msg: "zone directory has no zone.yaml"})
			b.zones[d.Name()] = true
			continue
		}
		z := &Zone{File: path.Join(p, ZoneFile)}
		if l.decodeFile(fsys, z.File, KindZone, z, &src, &errs) {
			f.Zones = append(f.Zones, z)
		} else {
			b.zones[d.Name()] = true
		}
	}

	files := yamlFiles(fsys, BackendsDir, &errs)
	backends := make([]*Backend, len(files))
	results := l.decodeFiles(fsys, files, KindBackend, func(i int) any {
		backends[i] = &Backend{File: files[i]}
		return backends[i]
	})
	for i, r := range results {
		if r.merge(files[i], &src, &errs) {
			f.Backends = append(f.Backends, backends[i])
		} else {
			b.backends[strings.TrimSuffix(path.Base(files[i]), ".yaml")] = true
		}
	}
	files = nodeFiles(fsys, &errs)
	nodes := make([]*Node, len(files))
	results, miss, hashes := l.cache.reuseNodes(fsys, files, nodes)
	decoded := l.decodeFiles(fsys, pick(files, miss), KindNode, func(j int) any {
		nodes[miss[j]] = &Node{File: files[miss[j]]}
		return nodes[miss[j]]
	})
	for j, i := range miss {
		results[i] = decoded[j]
	}
	l.cache.keepNodes(files, hashes, nodes, results)
	if n := countOK(results); n > 0 {
		f.Nodes = make([]*Node, 0, n)
	}
	for i, r := range results {
		if r.merge(files[i], &src, &errs) {
			f.Nodes = append(f.Nodes, nodes[i])
		}
	}

	l.decodeContainers(fsys, f, &src, &errs)
	l.decodeOverrides(fsys, f, &src, &errs)

	sort.SliceStable(f.Zones, func(i, j int) bool { return f.Zones[i].Name < f.Zones[j].Name })
	sort.SliceStable(f.Backends, func(i, j int) bool { return f.Backends[i].Name < f.Backends[j].Name })
	sort.SliceStable(f.Nodes, func(i, j int) bool { return f.Nodes[i].Name < f.Nodes[j].Name })
	f.Source = src
	errs = append(errs, checkPlaintextKeys(fsys, l.cache)...)
	errs.Sort()
	return f, errs, b
}

// yamlFiles lists the YAML files directly in dir; anything else that looks
// like desired state there (a subdirectory, a .yml file) is an error.
func yamlFiles(fsys fs.FS, dir string, errs *Errors) []string {
	return yamlFilesIn(fsys, dir, false, errs)
}

// nodeFiles lists the node files of either layout (nodelayout.go): the
// YAML files directly in nodes/ and in its shard directories. Which of
// them is where its node's file belongs is validation's business
// (validator.node), so a misplaced file is reported with its node's name.
func nodeFiles(fsys fs.FS, errs *Errors) []string {
	return yamlFilesIn(fsys, NodesDir, true, errs)
}

func yamlFilesIn(fsys fs.FS, dir string, shards bool, errs *Errors) []string {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			*errs = append(*errs, Error{File: dir, Msg: fmt.Sprintf("reading directory: %v", err)})
		}
		return nil
	}
	var out []string
	for _, e := range entries {
		p := path.Join(dir, e.Name())
		switch {
		case shards && e.IsDir() && isShardDir(e.Name()):
			out = append(out, yamlFilesIn(fsys, p, false, errs)...)
		case shards && e.IsDir():
			*errs = append(*errs, Error{File: p, Msg: fmt.Sprintf("unexpected directory: %s/ holds one .yaml file per node (nodes/<name>.yaml), or with nodeLayout: sharded one directory per shard, named by two lowercase hex digits (nodes/<shard>/<name>.yaml)", dir)})
		case e.IsDir():
			*errs = append(*errs, Error{File: p, Msg: fmt.Sprintf("unexpected directory: %s/ holds one .yaml file per object", dir)})
		case strings.HasSuffix(e.Name(), ".yaml"):
			out = append(out, p)
		case strings.HasSuffix(e.Name(), ".yml"):
			*errs = append(*errs, Error{File: p, Msg: "desired-state files end in .yaml, not .yml"})
		}
	}
	return out
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}

// decodeFile strictly decodes one single-document YAML file into out and
// checks its kind. It reports every problem it finds and returns whether out
// is usable.
func (l loader) decodeFile(fsys fs.FS, file, kind string, out any, src *Source, errs *Errors) bool {
	data, err := readFile(fsys, file)
	return l.decodeRead(file, data, err, kind, out).merge(file, src, errs)
}

// decodeFiles decodes files, all of one kind, into the values out returns
// for each index, and returns each file's result in the order of files.
// The calling goroutine reads the files, one at a time (fsys need not be
// safe for concurrent use), and up to GOMAXPROCS workers parse and decode
// them. Decoding a file depends on nothing but its contents, so the results
// are the same as decoding the files one after the other.
func (l loader) decodeFiles(fsys fs.FS, files []string, kind string, out func(i int) any) []fileResult {
	results := make([]fileResult, len(files))
	workers := min(runtime.GOMAXPROCS(0), len(files)/minFilesPerWorker)
	if workers < 2 {
		for i, file := range files {
			data, err := readFile(fsys, file)
			results[i] = l.decodeRead(file, data, err, kind, out(i))
		}
		return results
	}
	type job struct {
		i    int
		data []byte
		err  error
	}
	jobs := make(chan job, 16*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				results[j.i] = l.decodeRead(files[j.i], j.data, j.err, kind, out(j.i))
			}
		})
	}
	for i, file := range files {
		data, err := readFile(fsys, file)
		jobs <- job{i, data, err}
	}
	close(jobs)
	wg.Wait()
	return results
}

func countOK(results []fileResult) int {
	n := 0
	for _, r := range results {
		if r.ok {
			n++
		}
	}
	return n
}

// minFilesPerWorker keeps small directories out of the worker pool, whose
// start costs more than decoding a few files.
const minFilesPerWorker = 16

// fileResult is what decoding one file found: whether the decoded value is
// usable, the file's problems, and its position index (nil when the file was
// not read or is not a YAML mapping).
type fileResult struct {
	ok   bool
	errs Errors
	idx  *fileIndex
}

// merge adds the result to a fleet's errors and source index and returns
// whether the decoded value is usable.
func (r fileResult) merge(file string, src *Source, errs *Errors) bool {
	*errs = append(*errs, r.errs...)
	if r.idx != nil {
		src.add(file, r.idx)
	}
	return r.ok
}

// decodeRead decodes a file that fs.ReadFile returned data and err for.
func (l loader) decodeRead(file string, data []byte, err error, kind string, out any) fileResult {
	if err != nil {
		var r fileResult
		if !errors.Is(err, fs.ErrNotExist) {
			r.errs = Errors{{File: file, Msg: fmt.Sprintf("reading file: %v", err)}}
		}
		return r
	}
	return l.decodeBytes(file, data, kind, out)
}

// sharedReader is an FS whose files' bytes are never written, which it
// hands out without a copy (gittree.FS).
type sharedReader interface {
	ReadFileShared(name string) ([]byte, error)
}

// readFile is fs.ReadFile, but a symbolic link that leads nowhere inside
// the tree is an error that says so, not a missing file. The bytes it
// returns are never written: decodeBytes keeps strings that share them.
// From a gittree.FS they are the snapshot's own (no copy); from any other
// FS, a copy nobody else holds.
func readFile(fsys fs.FS, file string) ([]byte, error) {
	var data []byte
	var err error
	if sr, ok := fsys.(sharedReader); ok {
		data, err = sr.ReadFileShared(file)
	} else {
		data, err = fs.ReadFile(fsys, file)
	}
	if err != nil {
		if e, ok := danglingLink(fsys, file); ok {
			return nil, errors.New(e.Msg)
		}
	}
	return data, err
}

// danglingLink reports whether file is a symbolic link that does not lead
// to a file inside the tree, and the error that says so. A fleet is read
// as git holds it (a working directory through gittree.FromDir): a link is
// followed only to a relative target inside the tree.
func danglingLink(fsys fs.FS, file string) (Error, bool) {
	target, err := fs.ReadLink(fsys, file)
	if err != nil {
		return Error{}, false
	}
	if _, err := fs.Stat(fsys, file); err == nil {
		return Error{}, false
	}
	return Error{File: file, Msg: fmt.Sprintf("symbolic link to %q does not lead to a file inside the fleet tree (links are followed only to relative targets inside it, as in git)", target)}, true
}

// DecodeBytes strictly decodes data (the contents of file) into out, a
// pointer to one of the model's file types, checks its kind and records
// field positions in src. It appends every problem to errs and returns
// whether out is usable: unknown fields and duplicate keys leave it usable
// (they are dropped before decoding), type errors and a wrong kind do not.
func DecodeBytes(file string, data []byte, kind string, out any, src *Source, errs *Errors) bool {
	// A copy: the caller may write data afterwards.
	return loader{}.decodeBytes(file, bytes.Clone(data), kind, out).merge(file, src, errs)
}

// decodeBytes is DecodeBytes returning its findings. A flat file (a node:
// one `key: value` per line) into a flat struct takes decodeFlatFile, which
// builds no node tree; other files are parsed by fastParse, which builds the
// tree yaml.v3 would, or by yaml.v3 when it declines (fastyaml.go). Each
// path reports exactly what yaml.v3 alone would (FuzzLoadFile checks it).
func (l loader) decodeBytes(file string, data []byte, kind string, out any) fileResult {
	if len(data) > MaxFileBytes {
		return fileResult{errs: Errors{sizeError(file, len(data))}}
	}
	// The decoded strings share data, which nothing writes (readFile,
	// DecodeBytes' copy): a node's file is held once, by the snapshot.
	text := unsafe.String(unsafe.SliceData(data), len(data))
	var r fileResult
	ok := false
	if !l.yamlOnly {
		r, ok = decodeFlatFile(file, text, kind, out)
	}
	if !ok {
		r = l.decodeTree(file, data, text, kind, out)
	}
	r.errs = capErrors(r.errs, MaxFileErrors, file)
	return r
}

// decodeTree is decodeBytes through a node tree, built by fastParse or,
// when it declines, yaml.v3 (text is data as a string).
func (l loader) decodeTree(file string, data []byte, text, kind string, out any) (r fileResult) {
	var root *yaml.Node
	fast := false
	if !l.yamlOnly {
		root, fast = fastParseString(text)
	}
	if !fast {
		root = &yaml.Node{}
		if err := yaml.Unmarshal(data, root); err != nil {
			r.errs = append(r.errs, syntaxError(file, err))
			return r
		}
		// The fast path takes no document markers, so only here can
		// there be several documents.
		if n := countDocuments(data); n > 1 {
			r.errs = append(r.errs, Error{File: file, Msg: "a desired-state file holds exactly one YAML document"})
			return r
		}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		r.errs = append(r.errs, Error{File: file, Line: 1, Col: 1, Msg: "file is empty"})
		return r
	}
	// Bound what anything may cost to walk this tree (aliases expanded)
	// before anything walks it.
	if e := shapeError(file, root); e != nil {
		r.errs = append(r.errs, *e)
		return r
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		r.errs = append(r.errs, Error{File: file, Line: doc.Line, Col: doc.Column, Msg: "expected a mapping at the top of the file"})
		return r
	}
	r.idx = newFileIndex(text, l.yamlOnly)
	// Unknown fields and duplicate keys are reported and dropped from doc;
	// the rest of the file still decodes completely, so they do not make out
	// unusable. Type errors and a wrong kind do.
	checkFields(file, doc, reflect.TypeOf(out).Elem(), "", &r.errs)
	before := len(r.errs)
	// A flat struct (a node) from a fast-parsed file skips yaml.v3's
	// reflective decoder; decodeFlat does exactly what it would.
	terrs, done := []string(nil), false
	if fast {
		terrs, done = decodeFlat(doc, out)
	}
	if !done {
		if err := doc.Decode(out); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				r.errs = append(r.errs, Error{File: file, Msg: err.Error()})
				return r
			}
			terrs = te.Errors
		}
	}
	for _, msg := range terrs {
		r.errs = append(r.errs, typeError(file, msg, r.idx))
	}
	got := ""
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "kind" {
			got = doc.Content[i+1].Value
			break
		}
	}
	if got != kind {
		r.errs = append(r.errs, kindError(file, kind, got, r.idx))
	}
	r.ok = len(r.errs) == before
	return r
}

// kindError reports a file whose kind is got where kind is wanted.
func kindError(file, kind, got string, idx *fileIndex) Error {
	p := idx.pos("kind")
	msg := fmt.Sprintf("kind must be %q here, got %q", kind, got)
	if got == "" {
		msg = fmt.Sprintf("missing kind (want %q)", kind)
	}
	return Error{File: file, Line: p.Line, Col: p.Col, Field: "kind", Msg: msg}
}

// countDocuments counts YAML documents cheaply: a second document needs a
// "---" line after content.
func countDocuments(data []byte) int {
	s := string(data)
	n := 1
	content := false
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimRight(line, " \t\r")
		if t == "---" || strings.HasPrefix(t, "--- ") {
			if content {
				n++
				content = false
			}
			continue
		}
		if t != "" && !strings.HasPrefix(strings.TrimLeft(t, " \t"), "#") {
			content = true
		}
	}
	return n
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func syntaxError(file string, err error) Error {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return Error{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	return Error{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + m[2]}
}

var (
	cannotUnmarshalRe = regexp.MustCompile("^cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
	alreadySetRe      = regexp.MustCompile(`^(?:field|mapping key) "?(.*?)"? already (?:set in type \S+|defined at line (\d+))$`)
)

// typeError turns one of yaml.v3's "line N: ..." type errors into an Error
// with a column and a field path.
func typeError(file, msg string, idx *fileIndex) Error {
	m := yamlLineRe.FindStringSubmatch(msg)
	if m == nil {
		return Error{File: file, Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	e := Error{File: file, Line: line, Col: 1, Msg: rest}
	if d := alreadySetRe.FindStringSubmatch(rest); d != nil {
		if p, pos, ok := idx.keyAt(line, d[1]); ok {
			e.Field, e.Line, e.Col = p, pos.Line, pos.Col
		}
		e.Msg = fmt.Sprintf("duplicate key %q", d[1])
		return e
	}
	c := cannotUnmarshalRe.FindStringSubmatch(rest)
	kind := yaml.ScalarNode
	if c != nil && c[1] == "seq" {
		kind = yaml.SequenceNode
	} else if c != nil && c[1] == "map" {
		kind = yaml.MappingNode
	}
	if p, pos, ok := idx.fieldAt(line, kind); ok {
		e.Field, e.Col = p, pos.Col
	}
	if c != nil {
		want := c[3]
		switch {
		case strings.HasPrefix(want, "[]"):
			want = "a list"
		case strings.HasPrefix(want, "desired."), strings.HasPrefix(want, "*desired."):
			want = "a mapping"
		case want == "int":
			want = "an integer"
		case want == "bool":
			want = "true or false"
		case want == "string":
			want = "a string"
		case want == "duration":
			want = "a duration such as 500ms, 2s or 1m"
		}
		got := c[1]
		switch got {
		case "map":
			got = "a mapping"
		case "seq":
			got = "a list"
		default:
			got = fmt.Sprintf("%q", c[2])
		}
		e.Msg = fmt.Sprintf("expected %s, got %s", want, got)
	}
	return e
}

// checkFields reports every mapping key that the target type does not have.
// It walks the YAML tree alongside the Go type, so nested unknown fields are
// found too, each with its exact position.
func checkFields(file string, n *yaml.Node, t reflect.Type, path string, errs *Errors) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode {
		return // a scalar has no fields; a mismatch is a type error, reported by the decoder
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error, reported by the decoder
		}
		fields := yamlFields(t)
		var seen map[string]*yaml.Node // for large mappings; small ones are scanned
		if len(n.Content) > 2*maxScannedKeys {
			seen = make(map[string]*yaml.Node, len(n.Content)/2)
		}
		var dups []int // duplicate and unknown keys, dropped before decoding
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var first *yaml.Node
			if seen != nil {
				if first = seen[k.Value]; first == nil {
					seen[k.Value] = k
				}
			} else {
				first = earlierKey(n.Content, i)
			}
			if first != nil {
				if len(*errs) > MaxFileErrors {
					dups = append(dups, i)
					continue
				}
				*errs = append(*errs, Error{File: file, Line: k.Line, Col: k.Column, Field: joinPath(path, k.Value),
					Msg: fmt.Sprintf("duplicate key %q (first set on line %d)", k.Value, first.Line)})
				dups = append(dups, i)
				continue // decode the first occurrence only, so the file's other errors still show
			}
			ft, ok := fields[k.Value]
			if !ok {
				// Dropped too: yaml.v3 checks a mapping's keys for
				// duplicates pairwise, so thousands of unknown keys
				// would cost seconds to decode. (A merge key, "<<",
				// is reported but kept: the decoder merges it.)
				if k.Tag != "!!merge" {
					dups = append(dups, i)
				}
				if len(*errs) > MaxFileErrors {
					continue // capErrors says the rest were left out
				}
				*errs = append(*errs, Error{File: file, Line: k.Line, Col: k.Column, Field: joinPath(path, k.Value),
					Msg: fmt.Sprintf("unknown field %q%s", k.Value, suggest(k.Value, fields))})
				continue // dropped before decoding
			}
			checkFields(file, v, ft, joinPath(path, k.Value), errs)
		}
		if len(dups) > 0 {
			kept := make([]*yaml.Node, 0, len(n.Content)-2*len(dups))
			for i := 0; i+1 < len(n.Content); i += 2 {
				if len(dups) > 0 && dups[0] == i {
					dups = dups[1:]
					continue
				}
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
			n.Content = kept
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkFields(file, c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
		}
	}
}

// maxScannedKeys is the size up to which checkFields finds duplicate keys
// by scanning the keys before each one rather than with a map.
const maxScannedKeys = 32

// earlierKey returns the first key of the mapping content kv before index
// i with the same value as the key at i, or nil.
func earlierKey(kv []*yaml.Node, i int) *yaml.Node {
	k := kv[i].Value
	for j := 0; j < i; j += 2 {
		if kv[j].Value == k {
			return kv[j]
		}
	}
	return nil
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// fieldTables maps every model struct type to its YAML keys and their
// field types. It is computed once from the model's types and only read.
var fieldTables = buildFieldTables(reflect.TypeOf(Fleet{}), reflect.TypeOf(Zone{}), reflect.TypeOf(Backend{}), reflect.TypeOf(Node{}), reflect.TypeOf(Container{}), reflect.TypeOf(Override{}))

func buildFieldTables(roots ...reflect.Type) map[reflect.Type]map[string]reflect.Type {
	tables := map[reflect.Type]map[string]reflect.Type{}
	var visit func(t reflect.Type)
	visit = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || tables[t] != nil || reflect.PointerTo(t).Implements(unmarshalerType) {
			return
		}
		m := map[string]reflect.Type{}
		tables[t] = m
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "-" || !f.IsExported() {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			m[tag] = f.Type
			visit(f.Type)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	return tables
}

func yamlFields(t reflect.Type) map[string]reflect.Type { return fieldTables[t] }

// suggest proposes the known field closest to an unknown key: one that
// differs only in case, else one within two single-character edits.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3
	for k := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(k))
		if strings.EqualFold(k, key) {
			d = 0
		}
		if d < bestDist || (d == bestDist && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" || (bestDist > 0 && len(key) < 4) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
