package desired

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/invalid/*.txtar from the current output")

const examplesDir = "../examples/fleet"

// TestInvalidCorpus loads each testdata/invalid/*.txtar case: the example
// fleet with the case's files overlaid (a section named PATH replaces or adds
// that file, PATH.delete deletes it), and checks that Load reports exactly
// the lines of the case's want section, in Load's (sorted) order.
func TestInvalidCorpus(t *testing.T) {
	cases, err := filepath.Glob("testdata/invalid/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 40 {
		t.Errorf("the invalid corpus has %d cases, want at least 40", len(cases))
	}
	base := readExamples(t)
	for _, file := range cases {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ar := parseTxtar(data)
			if strings.TrimSpace(ar.comment) == "" {
				t.Errorf("%s: describe the case in the comment before the first section", file)
			}
			fsys := overlay(t, base, ar)
			_, err = Load(fsys)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load returned %v (%T), want desired.Errors", err, err)
			}
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()
			}
			if *update {
				ar.set("want", strings.Join(got, "\n")+"\n")
				if err := os.WriteFile(file, ar.format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := ar.get("want")
			if !ok {
				t.Fatalf("%s has no want section", file)
			}
			wantLines := strings.Split(strings.TrimRight(want, "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
				t.Errorf("Load errors differ\n got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(wantLines, "\n\t"))
			}
		})
	}
}

// readExamples reads the example fleet into a map of files.
func readExamples(tb testing.TB) fstest.MapFS {
	tb.Helper()
	m := fstest.MapFS{}
	root := os.DirFS(examplesDir)
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		return nil
	})
	if err != nil {
		tb.Fatalf("reading %s: %v", examplesDir, err)
	}
	return m
}

// overlay copies base and applies the archive's file sections to it.
func overlay(t *testing.T, base fstest.MapFS, ar *txtar) fstest.MapFS {
	t.Helper()
	m := make(fstest.MapFS, len(base))
	for k, v := range base {
		m[k] = v
	}
	for _, f := range ar.files {
		switch {
		case f.name == "want":
		case strings.HasSuffix(f.name, ".delete"):
			p := strings.TrimSuffix(f.name, ".delete")
			if _, ok := m[p]; !ok {
				t.Fatalf("section %q deletes %s, which the example fleet does not have", f.name, p)
			}
			delete(m, p)
		default:
			m[f.name] = &fstest.MapFile{Data: []byte(f.data), Mode: 0o644}
		}
	}
	return m
}

// txtar is a minimal reader and writer of the txtar format
// (golang.org/x/tools/txtar): a comment, then sections each introduced by a
// line "-- NAME --".
type txtar struct {
	comment string
	files   []txtarFile
}

type txtarFile struct{ name, data string }

func parseTxtar(data []byte) *txtar {
	ar := &txtar{}
	cur := &ar.comment
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		s := strings.TrimRight(string(line), "\r\n")
		if strings.HasPrefix(s, "-- ") && strings.HasSuffix(s, " --") && len(s) > 6 {
			ar.files = append(ar.files, txtarFile{name: strings.TrimSpace(s[3 : len(s)-3])})
			cur = &ar.files[len(ar.files)-1].data
			continue
		}
		*cur += string(line)
		if !strings.HasSuffix(*cur, "\n") {
			*cur += "\n"
		}
	}
	return ar
}

func (ar *txtar) get(name string) (string, bool) {
	for _, f := range ar.files {
		if f.name == name {
			return f.data, true
		}
	}
	return "", false
}

func (ar *txtar) set(name, data string) {
	for i := range ar.files {
		if ar.files[i].name == name {
			ar.files[i].data = data
			return
		}
	}
	ar.files = append(ar.files, txtarFile{name, data})
}

func (ar *txtar) format() []byte {
	var b strings.Builder
	b.WriteString(ar.comment)
	for _, f := range ar.files {
		b.WriteString("-- " + f.name + " --\n")
		b.WriteString(f.data)
	}
	return []byte(b.String())
}

func TestTxtarRoundTrip(t *testing.T) {
	tests := []struct {
		name, in string
		files    []txtarFile
	}{
		{"comment only", "just a comment\n", nil},
		{"two files", "c\n-- a.yaml --\nx: 1\n-- b.delete --\n", []txtarFile{{"a.yaml", "x: 1\n"}, {"b.delete", ""}}},
		{"no final newline", "-- a --\nx", []txtarFile{{"a", "x\n"}}},
		{"marker-like content", "-- a --\n--x--\n-- b --\n", []txtarFile{{"a", "--x--\n"}, {"b", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar := parseTxtar([]byte(tt.in))
			if len(ar.files) != len(tt.files) {
				t.Fatalf("got %d files %q, want %d", len(ar.files), ar.files, len(tt.files))
			}
			for i := range tt.files {
				if ar.files[i] != tt.files[i] {
					t.Errorf("file %d = %q, want %q", i, ar.files[i], tt.files[i])
				}
			}
			again := parseTxtar(ar.format())
			if string(again.format()) != string(ar.format()) {
				t.Errorf("format is not stable:\n%s\nvs\n%s", ar.format(), again.format())
			}
		})
	}
}
