package source_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ddc-gitops/ddc-gitops/internal/gitserver"
	"github.com/ddc-gitops/ddc-gitops/internal/gitserver/gitservertest"
	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

func newKey(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// sshGitServer serves repo over SSH the way git hosts do: an "exec" request
// for git-upload-pack runs the real git-upload-pack on the repository.
func sshGitServer(t *testing.T, repo string, hostKey ssh.Signer, clientKey ssh.PublicKey) string {
	t.Helper()
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown public key")
		},
	}
	cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { serveSSH(c, cfg, repo, &wg) })
		}
	})
	return ln.Addr().String()
}

func serveSSH(c net.Conn, cfg *ssh.ServerConfig, repo string, wg *sync.WaitGroup) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		wg.Go(func() { serveSession(ch, creqs, repo) })
	}
}

func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request, repo string) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			_ = req.Reply(false, nil)
			continue
		}
		var payload struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &payload); err != nil || !strings.HasPrefix(payload.Command, "git-upload-pack ") {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		cmd := exec.Command("git", "upload-pack", repo)
		cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		status := uint32(0)
		if err := cmd.Start(); err != nil {
			status = 127
		} else {
			go func() { _, _ = io.Copy(stdin, ch); _ = stdin.Close() }()
			if err := cmd.Wait(); err != nil {
				status = 1
			}
		}
		_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
		return
	}
}

func TestSSH(t *testing.T) {
	srv := gitservertest.New(t, gitserver.Options{})
	h := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("over ssh")}, nil, "one")
	hostKey, _ := newKey(t)
	otherHostKey, _ := newKey(t)
	clientKey, clientPEM := newKey(t)
	_, otherClientPEM := newKey(t)
	addr := sshGitServer(t, srv.RepoPath(), hostKey, clientKey.PublicKey())

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("id", clientPEM)
	otherKeyFile := write("other-id", otherClientPEM)
	goodHosts := write("known_hosts", []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey.PublicKey())+"\n"))
	changedHosts := write("changed_hosts", []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, otherHostKey.PublicKey())+"\n"))
	unknownHosts := write("unknown_hosts", []byte(knownhosts.Line([]string{"[192.0.2.1]:22"}, hostKey.PublicKey())+"\n"))

	url := "ssh://git@" + addr + "/fleet.git"
	tests := []struct {
		name    string
		auth    source.Auth
		wantErr error
	}{
		{"good", source.Auth{SSHKeyFile: keyFile, KnownHostsFile: goodHosts}, nil},
		{"host key changed", source.Auth{SSHKeyFile: keyFile, KnownHostsFile: changedHosts}, source.ErrHostKey},
		{"host unknown", source.Auth{SSHKeyFile: keyFile, KnownHostsFile: unknownHosts}, source.ErrHostKey},
		{"client key refused", source.Auth{SSHKeyFile: otherKeyFile, KnownHostsFile: goodHosts}, source.ErrAuth},
		{"key file missing", source.Auth{SSHKeyFile: filepath.Join(dir, "none"), KnownHostsFile: goodHosts}, source.ErrConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newSource(t, url)
			src.Auth = tc.auth
			snap, err := src.Sync(context.Background())
			if tc.wantErr != nil {
				if !source.IsPermanent(err) || !errors.Is(err, tc.wantErr) {
					t.Fatalf("sync: %v, want a permanent %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if snap.Revision.Hash != h || readFS(t, snap.FS, "f") != "over ssh" {
				t.Fatalf("synced %+v", snap.Revision)
			}
			h2 := gitservertest.MustCommit(t, srv, map[string][]byte{"f": []byte("two")}, nil, "two")
			if snap := mustSync(t, src); snap.Revision.Hash != h2 {
				t.Fatalf("fetch over ssh: %s, want %s", snap.Revision.Hash, h2)
			}
		})
	}
}
