package devchain

import (
	"context"
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

func TestGethVersionFrom(t *testing.T) {
	dep := func(path, version string, replace *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Deps: []*debug.Module{{Path: "example.com/other", Version: "v0.1.0"}, {Path: path, Version: version, Replace: replace}}}
	}
	cases := []struct {
		name    string
		bi      *debug.BuildInfo
		meta    string
		want    string
		wantErr string
	}{
		{"module listed", dep(GethModule, "v1.16.2", nil), "stable", "v1.16.2", ""},
		{"pseudo-version", dep(GethModule, "v1.17.11-0.20260101000000-abcdefabcdef", nil), "unstable", "v1.17.11-0.20260101000000-abcdefabcdef", ""},
		{"replaced by a version", dep(GethModule, "v1.16.2", &debug.Module{Path: GethModule, Version: "v1.16.3"}), "stable", "v1.16.3", ""},
		{"replaced by a directory", dep(GethModule, "v1.16.2", &debug.Module{Path: "../go-ethereum"}), "stable", "", "replaced by the directory"},
		{"replaced by a fork", dep(GethModule, "v1.16.2", &debug.Module{Path: "example.com/fork", Version: "v1.0.0"}), "stable", "", "example.com/fork@v1.0.0"},
		{"no deps (test binary): constants", &debug.BuildInfo{}, "stable", "v1.17.10", ""},
		{"no build info: constants", nil, "stable", "v1.17.10", ""},
		{"no deps, unstable", &debug.BuildInfo{}, "unstable", "", "not a stable release"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gethVersionFrom(tc.bi, 1, 17, 10, tc.meta)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), EnvGeth) {
					t.Fatalf("got %q, %v; want an error mentioning %q and %s", got, err, tc.wantErr, EnvGeth)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// GethVersion is the version go.mod requires.
func TestGethVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*github\.com/ethereum/go-ethereum (v\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod does not require go-ethereum")
	}
	got, err := GethVersion()
	if err != nil {
		t.Fatal(err)
	}
	if got != string(m[1]) {
		t.Fatalf("GethVersion %q, go.mod %q", got, m[1])
	}
}

func TestDefaultCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got, err := DefaultCacheDir(); err != nil || got != "/x/cache/ddc-gitops" {
		t.Fatalf("got %q, %v", got, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if got, err := DefaultCacheDir(); err != nil || got != "/home/someone/.cache/ddc-gitops" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeGeth is a geth that reports version (without the v).
func fakeGeth(version string) string {
	return "echo Geth\necho 'Version: " + version + "-stable'\necho 'Architecture: amd64'\n"
}

// fakeGo is a `go` that logs its calls and "builds" a geth reporting
// built into $GOBIN (or fails with output when built is "").
func fakeGo(built string) string {
	s := `echo "$@ GOBIN=$GOBIN" >> "$FAKE_GO_LOG"
[ "$1" = install ] || { echo "unexpected go $1" >&2; exit 3; }
`
	if built == "" {
		return s + "echo 'go: downloading failed: boom' >&2\nexit 1\n"
	}
	return s + `printf '#!/bin/sh\necho Geth\necho "Version: ` + built + `-stable"\n' > "$GOBIN/geth"
/bin/chmod +x "$GOBIN/geth"
`
}

func TestGethLookup(t *testing.T) {
	const version = "v1.2.3"
	cases := []struct {
		name       string
		cached     string // version the cached geth reports ("": none)
		goScript   string // "": no go in PATH
		wantBuild  bool
		wantErr    string
		wantCached string // version the cached geth reports afterwards
	}{
		{"cache hit", "1.2.3", fakeGo("9.9.9"), false, "", "1.2.3"},
		{"nothing cached: built", "", fakeGo("1.2.3"), true, "", "1.2.3"},
		{"stale cache: rebuilt", "1.2.2", fakeGo("1.2.3"), true, "", "1.2.3"},
		{"no go", "", "", false, "install Go", ""},
		{"build fails", "", fakeGo(""), true, "boom", ""},
		{"build makes the wrong version", "", fakeGo("1.2.4"), true, `does not report "Version: 1.2.3"`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			bin := filepath.Join(cache, "geth", version, "geth")
			if tc.cached != "" {
				writeScript(t, bin, fakeGeth(tc.cached))
			}
			pathDir := t.TempDir()
			logFile := filepath.Join(t.TempDir(), "go.log")
			if tc.goScript != "" {
				writeScript(t, filepath.Join(pathDir, "go"), tc.goScript)
			}
			t.Setenv("PATH", pathDir)
			t.Setenv("FAKE_GO_LOG", logFile)
			var said []string
			got, err := cachedGeth(context.Background(), cache, version, func(f string, a ...any) { said = append(said, f) })
			calls, _ := os.ReadFile(logFile)
			if built := len(calls) > 0; built != tc.wantBuild {
				t.Fatalf("go called: %q, want a build: %v", calls, tc.wantBuild)
			}
			if tc.wantBuild && !strings.HasPrefix(string(calls), "install "+GethModule+"/cmd/geth@"+version+" GOBIN="+filepath.Join(cache, "geth", "."+version+".build-")) {
				t.Fatalf("go called as %q", calls)
			}
			if tc.wantBuild && (len(said) == 0 || !strings.Contains(said[0], "first run only")) {
				t.Fatalf("progress %q", said)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.wantErr)
				}
				if tc.goScript == "" && !strings.Contains(err.Error(), EnvGeth) {
					t.Fatalf("error %q does not mention %s", err, EnvGeth)
				}
			} else if err != nil || got != bin {
				t.Fatalf("got %q, %v; want %s", got, err, bin)
			}
			if tc.wantCached != "" {
				if err := gethIsVersion(context.Background(), bin, "v"+tc.wantCached); err != nil {
					t.Fatal(err)
				}
			} else if _, err := os.Stat(bin); err == nil {
				t.Fatalf("%s exists after a failed build", bin)
			}
			// No build directory is left behind.
			left, _ := filepath.Glob(filepath.Join(cache, "geth", ".*"))
			if len(left) > 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}

func TestGethEnvOverride(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mygeth")
	writeScript(t, good, fakeGeth("0.0.1"))
	bad := filepath.Join(dir, "broken")
	writeScript(t, bad, "echo nope >&2\nexit 2\n")
	t.Setenv("PATH", t.TempDir()) // no go: the override must not build
	t.Setenv(EnvGeth, good)
	got, err := Geth(context.Background(), t.TempDir(), nil)
	if err != nil || got != good {
		t.Fatalf("got %q, %v; want %s", got, err, good)
	}
	t.Setenv(EnvGeth, bad)
	if _, err := Geth(context.Background(), t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), EnvGeth) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("broken override: %v", err)
	}
}

func TestVersionCore(t *testing.T) {
	for in, want := range map[string]string{"v1.17.10": "1.17.10", "v1.17.11-0.2026-abc": "1.17.11", "1.2.3+meta": "1.2.3"} {
		if got := versionCore(in); got != want {
			t.Errorf("versionCore(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewSpare(t *testing.T) {
	sp, err := NewSpare("eu", clusterEU, "198.18.1.24", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Name != "node-"+sp.PubKey[2:14] || !regexp.MustCompile(`^node-[0-9a-f]{12}$`).MatchString(sp.Name) {
		t.Fatalf("name %q for %s", sp.Name, sp.PubKey)
	}
	if sp.Domain != sp.Name+".ddc.example" || sp.P2PPort != DefaultP2PPort || sp.Mode != "storage" || sp.ClusterID != clusterEU {
		t.Fatalf("spare %+v", sp)
	}
	other, err := NewSpare("eu", clusterEU, "198.18.1.24", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	if other.PubKey == sp.PubKey || other.ProviderID == sp.ProviderID {
		t.Fatal("two spares share keys")
	}
	r := sp.Record()
	cr := sp.contractRecord()
	if r.PubKey != hex32(cr.PubKey) || r.ClusterID != hex20(cr.ClusterId) || cr.Mode != 2 || cr.HttpPort != 8080 {
		t.Fatalf("record %+v vs contract record %+v", r, cr)
	}
	if got := recordOf(cr); got != r {
		t.Fatalf("recordOf %+v, want %+v", got, r)
	}
	bad := []struct {
		zone, cluster, host string
		http, grpc          int
		want                string
	}{
		{"", clusterEU, "198.18.1.24", 8080, 9091, "zone"},
		{"eu", "0x67424CC500a0532b2ca4e63d681a279809170593", "198.18.1.24", 8080, 9091, "clusterId"},
		{"eu", clusterEU, "bad host!", 8080, 9091, "host"},
		{"eu", clusterEU, "198.18.1.24", 0, 9091, "httpPort 0"},
		{"eu", clusterEU, "198.18.1.24", 8080, 70000, "grpcPort 70000"},
	}
	for _, b := range bad {
		if _, err := NewSpare(b.zone, b.cluster, b.host, b.http, b.grpc); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("NewSpare(%q, %q, %q, %d, %d): %v, want an error about %s", b.zone, b.cluster, b.host, b.http, b.grpc, err, b.want)
		}
	}
}

func TestInfoFile(t *testing.T) {
	sp, err := NewSpare("us", clusterUS, "198.18.2.24", 8080, 9091)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := crypto.GenerateKey()
	in := Info{
		HTTPURL: "http://127.0.0.1:1", WSURL: "ws://127.0.0.1:2", ChainID: 1337,
		Contract: common.HexToAddress("0xabc").Hex(), DeployBlock: 3, Confirmations: 2, BlockPeriodSeconds: 1,
		OwnerKey: KeyHex(k), ProviderKey: KeyHex(k), ManagerKey: KeyHex(k),
		Clusters: testClusters, Spares: []Spare{sp},
	}
	path := filepath.Join(t.TempDir(), "state", InfoFile)
	if err := WriteInfo(path, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", path, fi, err)
	}
	out, err := ReadInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.Spares[0] != sp || out.Contract != in.Contract || out.Clusters[clusterUS] != "us" || out.Confirmations != 2 {
		t.Fatalf("read back %+v", out)
	}
	if got, ok := out.SpareByZone("us"); !ok || got != sp {
		t.Fatal("SpareByZone")
	}
	if _, ok := out.SpareByZone("eu"); ok {
		t.Fatal("SpareByZone eu")
	}
	if got, ok := out.SpareByPubKey(sp.PubKey); !ok || got != sp {
		t.Fatal("SpareByPubKey")
	}
	pk, err := out.providerKey()
	if err != nil || !pk.Equal(k) {
		t.Fatalf("provider key %v", err)
	}
	if _, err := ReadInfo(filepath.Join(t.TempDir(), InfoFile)); err == nil || !strings.Contains(err.Error(), "is the lab running") {
		t.Fatalf("missing file: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".chain-*"))
	if len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestDecodeRevert(t *testing.T) {
	reg := contract.NewNodeRegistry()
	errs := reg.GetABI().Errors
	pack := func(name string, args ...any) []byte {
		e := errs[name]
		data, err := e.Inputs.Pack(args...)
		if err != nil {
			t.Fatal(err)
		}
		return append(append([]byte{}, e.ID[:4]...), data...)
	}
	var pk [32]byte
	pk[0] = 0xab
	var c1, c2 [20]byte
	c1[0], c2[0] = 1, 2
	from := common.HexToAddress("0x00000000000000000000000000000000000000f1")
	cases := []struct {
		name     string
		data     []byte
		wantName string
		want     string
	}{
		{"NodeExists", pack("NodeExists", pk), "NodeExists", "node 0xab00"},
		{"ClusterMismatch", pack("ClusterMismatch", pk, c1, c2), "ClusterMismatch", "declared cluster 0x02000000"},
		{"NotClusterManager", pack("NotClusterManager", c1), "NotClusterManager", from.Hex() + " is not the manager of cluster 0x0100"},
		{"InvalidMode", pack("InvalidMode", uint8(9)), "InvalidMode", "mode 9"},
		{"NotOwner", pack("NotOwner"), "NotOwner", "owner"},
		{"empty", nil, "", "without a reason"},
		{"short", []byte{1, 2}, "", "without a reason"},
		{"unknown selector", []byte{0xde, 0xad, 0xbe, 0xef, 0}, "", "selector 0xdeadbeef"},
		{"Error(string)", append(common.FromHex("0x08c379a0"), mustPackString(t, "plain reason")...), "Error", "plain reason"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := decodeRevert(reg, "createNode", from, tc.data)
			if e.Name != tc.wantName || !strings.Contains(e.Error(), tc.want) || !strings.Contains(e.Error(), "refused createNode from "+from.Hex()) {
				t.Fatalf("got %q (name %q), want %q and %q", e.Error(), e.Name, tc.wantName, tc.want)
			}
		})
	}
}

func mustPackString(t *testing.T, s string) []byte {
	t.Helper()
	// ABI encoding of one string: offset, length, padded bytes.
	out := make([]byte, 64, 64+32)
	out[31] = 32
	out[63] = byte(len(s))
	pad := make([]byte, 32)
	copy(pad, s)
	return append(out, pad...)
}

// A data directory whose keystore holds another account is refused before
// geth starts: geth would take that account as its developer account.
func TestForeignKeystore(t *testing.T) {
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "keystore", "UTC--2020-01-01T00-00-00.000000000Z--0000000000000000000000000000000000000001"), "")
	_, err := Start(context.Background(), Options{Geth: "/nonexistent/geth", DataDir: dir, HTTPAddr: "127.0.0.1:1", WSAddr: "127.0.0.1:2"})
	if err == nil || !strings.Contains(err.Error(), "holds another account") {
		t.Fatalf("got %v", err)
	}
}

// The keystore written for geth decrypts to the developer key, and a
// second Start on the same data directory reuses it.
func TestPrepareKeystore(t *testing.T) {
	dir := t.TempDir()
	key, _ := crypto.GenerateKey()
	pw, err := prepareKeystore(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "keystore", "UTC--*"))
	if len(files) != 1 {
		t.Fatalf("keystore files %v", files)
	}
	got := decryptKey(t, files[0], pw)
	if !got.Equal(key) {
		t.Fatal("the keystore holds another key")
	}
	if again, err := prepareKeystore(dir, key); err != nil || again != pw {
		t.Fatalf("second prepare: %q %v", again, err)
	}
	other, _ := crypto.GenerateKey()
	if _, err := prepareKeystore(dir, other); err == nil {
		t.Fatal("another key accepted in a used keystore")
	}
}

func TestStartOptions(t *testing.T) {
	base := Options{Geth: "/bin/true", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:1", WSAddr: "127.0.0.1:2"}
	for name, mod := range map[string]func(*Options){
		"no geth":           func(o *Options) { o.Geth = "" },
		"sub-second period": func(o *Options) { o.Period = 500 * time.Millisecond },
		"fractional period": func(o *Options) { o.Period = 1500 * time.Millisecond },
	} {
		o := base
		mod(&o)
		if _, err := Start(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	args, err := GethArgs("/d", "/d/password", "127.0.0.1:8545", "127.0.0.1:8546", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	for _, want := range []string{"--dev --dev.period 2 ", "--http.addr 127.0.0.1 --http.port 8545", "--ws.addr 127.0.0.1 --ws.port 8546", "--password /d/password", "--ipcdisable", "--maxpeers 0"} {
		if !strings.Contains(line, want) {
			t.Errorf("command line %q lacks %q", line, want)
		}
	}
}

func decryptKey(t *testing.T, file, pwFile string) *ecdsa.PrivateKey {
	t.Helper()
	blob, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keystore.DecryptKey(blob, strings.TrimSpace(string(pw)))
	if err != nil {
		t.Fatal(err)
	}
	return k.PrivateKey
}

// A geth that dies at start is reported with the end of its log.
func TestStartGethExits(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "geth")
	writeScript(t, bin, "echo 'Fatal: something broke' >&2\nexit 1\n")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	_, err := Start(ctx, Options{Geth: bin, DataDir: filepath.Join(dir, "data"), HTTPAddr: "127.0.0.1:1", WSAddr: "127.0.0.1:2"})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "Fatal: something broke") {
		t.Fatalf("got %v", err)
	}
}
