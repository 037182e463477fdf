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
// byte for byte, in protocols v0 and v2, with and without a gzip body. Bad
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
				if code != rcode || ctype != rctype || body != rbody {
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

func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
