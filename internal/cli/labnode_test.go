package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/lab/devchain"
)

// labGeth is the geth binary for these tests: $DDC_GITOPS_GETH or the cached
// build; the test is skipped without one unless $DDC_GITOPS_REQUIRE_GETH is
// set (then it is built).
func labGeth(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if os.Getenv(devchain.EnvGeth) == "" && os.Getenv("DDC_GITOPS_REQUIRE_GETH") == "" {
		version, err := devchain.GethVersion()
		if err != nil {
			t.Fatal(err)
		}
		cache, err := devchain.DefaultCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(cache, "geth", version, "geth")); err != nil {
			t.Skipf("no geth %s binary in %s: set %s, or DDC_GITOPS_REQUIRE_GETH=1 to build it", version, cache, devchain.EnvGeth)
		}
	}
	bin, err := devchain.Geth(ctx, "", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// labChain starts a dev chain with the registry and writes the lab's
// chain info into a state directory, which it returns with the info.
func labChain(t *testing.T) (string, devchain.Info) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	httpAddr, err := devchain.FreeAddr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	wsAddr, err := devchain.FreeAddr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	n, err := devchain.Start(ctx, devchain.Options{
		Geth: labGeth(t), DataDir: filepath.Join(state, "chain", "geth"), HTTPAddr: httpAddr, WSAddr: wsAddr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("stopping geth: %v", err)
		}
	})
	const eu, us = "0x67424cc500a0532b2ca4e63d681a279809170593", "0x1d4dc5501242b509e42d08d9e04f0adef07a9737"
	info, err := n.Deploy(ctx, map[string]string{eu: "eu", us: "us"})
	if err != nil {
		t.Fatal(err)
	}
	info.Confirmations = 3
	for _, z := range []struct{ zone, cluster, host string }{{"eu", eu, "198.18.1.24"}, {"us", us, "198.18.2.24"}} {
		sp, err := devchain.NewSpare(z.zone, z.cluster, z.host, 8080, 9091)
		if err != nil {
			t.Fatal(err)
		}
		info.Spares = append(info.Spares, sp)
	}
	if err := devchain.WriteInfo(filepath.Join(state, devchain.InfoFile), info); err != nil {
		t.Fatal(err)
	}
	return state, info
}

// runLabNode runs `lab node ARGS`.
func runLabNode(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := newLabNodeCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestLabNodeCommands(t *testing.T) {
	state, info := labChain(t)
	eu, _ := info.SpareByZone("eu")
	hexKey := strings.TrimPrefix(eu.PubKey, "0x")
	sd := "--state-dir=" + state

	steps := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
		usage   bool
	}{
		{"list before", []string{"list", sd}, []string{eu.Name + "  eu", "not registered (spare)", info.Contract}, "", false},
		{"register", []string{"register", sd, "--zone", "eu"}, []string{"registered spare " + eu.Name + " of zone eu", "createNode", "next: `ddc-gitops lab node admit --zone eu`"}, "", false},
		{"register twice", []string{"register", sd, eu.PubKey}, nil, "NodeExists", false},
		{"admit by pubKey (upper case, no 0x)", []string{"admit", sd, strings.ToUpper(hexKey)}, []string{"addNodeToCluster", "validateNode", "branch bot/node/" + hexKey + " (nodes/" + eu.Name + ".yaml)", "3 confirmations (about 3s)"}, "", false},
		{"admit again", []string{"admit", sd, "--zone", "eu"}, nil, "already admitted", false},
		{"list after admit", []string{"list", sd}, []string{eu.Name + "  eu    " + eu.PubKey + "  198.18.1.24:8080  yes         yes        yes"}, "", false},
		{"remove", []string{"remove", sd, "--zone", "eu"}, []string{"removeNodeFromCluster", "removeNode ", "branch bot/node/" + hexKey + "-remove"}, "", false},
		{"remove again", []string{"remove", sd, "--zone", "eu"}, nil, "NodeNotFound", false},
		{"both zone and pubKey", []string{"admit", sd, "--zone", "eu", eu.PubKey}, nil, "not both", true},
		{"neither", []string{"admit", sd}, nil, "give --zone", true},
		{"bad pubKey", []string{"admit", sd, "0x12"}, nil, "64 hex digits", true},
		{"unknown zone", []string{"admit", sd, "--zone", "mars"}, nil, "no spare node in zone \"mars\" (spares: eu: " + eu.Name, false},
		{"register a non-spare", []string{"register", sd, "0x" + strings.Repeat("ab", 32)}, nil, "is not one of the lab's spare nodes", false},
		{"no lab", []string{"list", "--state-dir", t.TempDir()}, nil, "is the lab running", false},
	}
	for _, s := range steps {
		out, err := runLabNode(t, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) || cmdkit.IsUsage(err) != s.usage {
				t.Fatalf("%s: got %v (usage %v), want an error with %q (usage %v)\n%s", s.name, err, cmdkit.IsUsage(err), s.wantErr, s.usage, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, out)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: output lacks %q:\n%s", s.name, w, out)
			}
		}
		t.Logf("%s:\n%s", s.name, out)
	}

	// JSON list: the us spare is still only a spare, nothing on chain.
	out, err := runLabNode(t, "list", sd, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Nodes  []json.RawMessage `json:"nodes"`
		Spares []devchain.Spare  `json:"spares"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Nodes) != 0 || len(got.Spares) != 2 {
		t.Fatalf("list --json: %s", out)
	}
}
