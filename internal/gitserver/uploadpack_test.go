package gitserver_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
)

// pkt is one pkt-line of git's protocol.
func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestUploadPackAnswersAsHTTPBackend sends the requests of a fetch to the
// server, which runs git upload-pack itself, and the same requests to git
// http-backend serving the same repository: the answers must be the same,
// byte for byte once the side-band framing is undone (see unband), in
// protocols v0 and v2, with and without a gzip body. Bad
// requests get a clear HTTP error, and what is not a fetch is still git
// http-backend's.
func TestUploadPackAnswersAsHTTPBackend(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	head := gitservertest.MustCommit(t, srv, map[string][]byte{"a.txt": []byte("one\n"), "d/b.txt": []byte("two\n")}, nil, "one")
	gitservertest.MustCommit(t, srv, map[string][]byte{"a.txt": []byte("three\n")}, nil, "two")
	head2, err := srv.Head()
	if err != nil {
		t.Fatal(err)
	}

	// The reference: git http-backend over the same repository.
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(srv.RepoPath())
	ref := httptest.NewServer(&cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Dir:  root,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + t.TempDir()},
	})
	t.Cleanup(ref.Close)

	infoRefs := srv.Path() + "/info/refs?service=git-upload-pack"
	uploadPack := srv.Path() + "/git-upload-pack"
	const reqType = "application/x-git-upload-pack-request"
	fetchV0 := pkt("want "+head2+" ofs-delta no-progress\n") + "0000" + pkt("have "+head+"\n") + pkt("done\n")
	cloneV0 := pkt("want "+head2+" ofs-delta\n") + "0000" + pkt("done\n")
	lsRefsV2 := pkt("command=ls-refs\n") + "0001" + pkt("peel\n") + pkt("symrefs\n") + "0000"
	fetchV2 := pkt("command=fetch\n") + "0001" + pkt("no-progress\n") + pkt("want "+head2+"\n") + pkt("have "+head+"\n") + pkt("done\n") + "0000"

	type req struct {
		method, path, body string
		header             map[string]string
	}
	tests := []struct {
		name string
		req  req
		// same: the answer must equal git http-backend's (status, content
		// type and body). Otherwise want is the status and contains a
		// part of the body.
		same     bool
		want     int
		contains string
	}{
		{name: "v0 advertisement", req: req{method: "GET", path: infoRefs}, same: true, contains: "001e# service=git-upload-pack\n0000"},
		{name: "v2 advertisement", req: req{method: "GET", path: infoRefs, header: map[string]string{"Git-Protocol": "version=2"}}, same: true, contains: "version 2\n"},
		{name: "Git-Protocol that is not key=value is ignored", req: req{method: "GET", path: infoRefs, header: map[string]string{"Git-Protocol": "version=2 --upload-pack=x"}}, want: http.StatusOK, contains: "001e# service=git-upload-pack\n0000"},
		{name: "v0 fetch of one commit", req: req{method: "POST", path: uploadPack, body: fetchV0, header: map[string]string{"Content-Type": reqType}}, same: true, contains: "PACK"},
		{name: "v0 clone", req: req{method: "POST", path: uploadPack, body: cloneV0, header: map[string]string{"Content-Type": reqType}}, same: true, contains: "PACK"},
		{name: "v0 fetch, gzip body", req: req{method: "POST", path: uploadPack, body: gzipped(t, fetchV0), header: map[string]string{"Content-Type": reqType, "Content-Encoding": "gzip"}}, same: true, contains: "PACK"},
		{name: "v2 ls-refs", req: req{method: "POST", path: uploadPack, body: lsRefsV2, header: map[string]string{"Content-Type": reqType, "Git-Protocol": "version=2"}}, same: true, contains: head2 + " refs/heads/main"},
		{name: "v2 fetch", req: req{method: "POST", path: uploadPack, body: fetchV2, header: map[string]string{"Content-Type": reqType, "Git-Protocol": "version=2"}}, same: true, contains: "packfile\n"},
		{name: "want of an object the server does not have", req: req{method: "POST", path: uploadPack, body: pkt("want "+strings.Repeat("1", 40)+"\n") + "0000" + pkt("done\n"), header: map[string]string{"Content-Type": reqType}}, same: true, contains: "not our ref"},
		{name: "wrong content type", req: req{method: "POST", path: uploadPack, body: fetchV0, header: map[string]string{"Content-Type": "text/plain"}}, want: http.StatusUnsupportedMediaType, contains: `content type "text/plain"`},
		{name: "gzip header on a plain body", req: req{method: "POST", path: uploadPack, body: fetchV0, header: map[string]string{"Content-Type": reqType, "Content-Encoding": "gzip"}}, want: http.StatusBadRequest, contains: "gzip"},
		{name: "GET of the negotiation is http-backend's", req: req{method: "GET", path: uploadPack}, same: true},
		{name: "another repository is http-backend's", req: req{method: "GET", path: "/other.git/info/refs?service=git-upload-pack"}, same: true},
		{name: "a push's advertisement is http-backend's", req: req{method: "GET", path: srv.Path() + "/info/refs?service=git-receive-pack"}, same: true, contains: "# service=git-receive-pack"},
	}
	do := func(t *testing.T, base string, q req) (int, string, string) {
		t.Helper()
		r, err := http.NewRequest(q.method, base+q.path, strings.NewReader(q.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range q.header {
			r.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, ctype, body := do(t, "http://"+srv.Addr(), tc.req)
			if tc.same {
				rcode, rctype, rbody := do(t, ref.URL, tc.req)
				if code != rcode || ctype != rctype || unband(body) != unband(rbody) {
					t.Errorf("answer differs from git http-backend's:\n got  %d %q %q\n want %d %q %q", code, ctype, trim(body), rcode, rctype, trim(rbody))
				}
			} else if code != tc.want {
				t.Errorf("status %d, want %d (%q)", code, tc.want, trim(body))
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("answer %q does not contain %q", trim(body), tc.contains)
			}
		})
	}
}

// unband is an answer of git's protocol with its side-band framing undone:
// runs of side-band packets of one band become one entry with their bytes
// joined. upload-pack cuts the pack into packets as pack-objects' output
// reaches it, so two runs of the same fetch can frame the same bytes
// differently (seen in CI: one packet of 0x10e bytes against two of 0xfa and
// 0x19). Other pkt-lines stay as they are; what is not a pkt-line (a pack
// sent without side-band) is kept raw.
func unband(s string) string {
	var out, data strings.Builder
	band := byte(0)
	flush := func() {
		if band != 0 {
			fmt.Fprintf(&out, "[band %d: %q]", band, data.String())
			data.Reset()
			band = 0
		}
	}
	for len(s) >= 4 {
		n, err := strconv.ParseUint(s[:4], 16, 16)
		if err != nil || (n > 2 && n < 5) || int(n) > len(s) {
			break
		}
		if n <= 2 { // flush, delim or response-end packet
			flush()
			out.WriteString(s[:4])
			s = s[4:]
			continue
		}
		if p := s[4:n]; p[0] == 1 || p[0] == 2 {
			if band != p[0] {
				flush()
				band = p[0]
			}
			data.WriteString(p[1:])
		} else {
			flush()
			out.WriteString(s[:n])
		}
		s = s[n:]
	}
	flush()
	out.WriteString(s)
	return out.String()
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestUnband(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"one packet or two of the same bytes", pkt("packfile\n") + pkt("\x01PACKabcdef") + "0000", pkt("packfile\n") + pkt("\x01PACK") + pkt("\x01abcdef") + "0000", true},
		{"different bytes", pkt("packfile\n") + pkt("\x01PACKabcdef") + "0000", pkt("packfile\n") + pkt("\x01PACKabcdeg") + "0000", false},
		{"same bytes on another band", pkt("\x01abc") + "0000", pkt("\x02abc") + "0000", false},
		{"a flush between the runs counts", pkt("\x01ab") + pkt("\x01c") + "0000", pkt("\x01ab") + "0000" + pkt("\x01c"), false},
		{"a pack without side-band is raw", pkt("NAK\n") + "PACK\x00\x00\x00\x02", pkt("NAK\n") + "PACK\x00\x00\x00\x02", true},
		{"raw tails differ", pkt("NAK\n") + "PACK\x00\x00\x00\x02", pkt("NAK\n") + "PACK\x00\x00\x00\x03", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := unband(tc.a) == unband(tc.b); got != tc.same {
				t.Errorf("unband(%q) == unband(%q) is %v, want %v", tc.a, tc.b, got, tc.same)
			}
		})
	}
}
