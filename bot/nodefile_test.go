package bot

import (
	"bytes"
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ddc-gitops/ddc-gitops/bot/chain"
	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestCheckRecord(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(*chain.Record)
		fields []string
	}{
		{"valid", func(*chain.Record) {}, nil},
		{"valid IPv6 and DNS host", func(r *chain.Record) { r.Host = "2001:db8::7" }, nil},
		{"valid DNS host", func(r *chain.Record) { r.Host = "node7.ddc.example" }, nil},
		{"directive injection in host", func(r *chain.Record) { r.Host = "evil.example\n  server x 1.2.3.4:80" }, []string{"host"}},
		{"host with a space", func(r *chain.Record) { r.Host = "evil.example check" }, []string{"host"}},
		{"empty host", func(r *chain.Record) { r.Host = "" }, []string{"host"}},
		{"dotted number host", func(r *chain.Record) { r.Host = "1.2.3.300" }, []string{"host"}},
		{"uppercase DNS host", func(r *chain.Record) { r.Host = "Node.Example" }, []string{"host"}},
		{"http port 0", func(r *chain.Record) { r.HTTPPort = 0 }, []string{"httpPort"}},
		{"every port 0", func(r *chain.Record) { r.HTTPPort, r.GRPCPort, r.P2PPort = 0, 0, 0 }, []string{"httpPort", "grpcPort", "p2pPort"}},
		{"domain with a hash", func(r *chain.Record) { r.Domain = "a.example#x" }, []string{"domain"}},
		{"unknown mode", func(r *chain.Record) { r.Mode = "mode(9)" }, []string{"mode"}},
		{"uppercase pubKey", func(r *chain.Record) { r.PubKey = strings.ToUpper(r.PubKey) }, []string{"pubKey"}},
		{"short cluster id", func(r *chain.Record) { r.ClusterID = "0x01" }, []string{"clusterId"}},
		{"provider id with a newline", func(r *chain.Record) { r.ProviderID = "0x\n" }, []string{"providerId"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := testRecord(1)
			tc.edit(&r)
			probs := CheckRecord(r)
			var got []string
			for _, p := range probs {
				got = append(got, p.Field)
				if !strings.HasPrefix(p.Message, p.Field+" ") {
					t.Errorf("message %q does not name its field %s", p.Message, p.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("CheckRecord fields = %v, want %v (%v)", got, tc.fields, probs)
			}
		})
	}
}

// testFleet is the example fleet as a MapFS, plus extra files.
func testFleet(t *testing.T, extra map[string]string) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	root := "../examples/fleet"
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = &fstest.MapFile{Data: data}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, s := range extra {
		out[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return out
}

func testConfig() *Config {
	c := &Config{StateDir: "x", ClusterZones: map[string]string{euCluster: "eu", usCluster: "us"}}
	c.setDefaults()
	return c
}

// A new node's file: the model's format, named after the pubKey, zone from
// the cluster, and a fleet that validates with it.
func TestNewNodeFileGolden(t *testing.T) {
	fleet := testFleet(t, nil)
	idx, err := indexNodes(fleet)
	if err != nil {
		t.Fatal(err)
	}
	r := testRecord(1)
	nf, err := testConfig().buildNodeFile(idx, zoneSet(fleet), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "nodes/node-a11ce0010000.yaml"; nf.Path != want {
		t.Fatalf("path = %s, want %s (node-<first 12 hex digits of the pubKey>)", nf.Path, want)
	}
	golden := filepath.Join("testdata", "node-new.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, nf.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(nf.Data, want) {
		t.Fatalf("node file differs from %s:\n%s", golden, nf.Data)
	}
	sv, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	if errs := sv.Validate(desired.KindNode, nf.Path, nf.Data, desired.Source{}); len(errs) > 0 {
		t.Fatalf("node file fails node.schema.json: %v", desired.Errors(errs))
	}
	if !strings.Contains(nf.Zone.Why, "mapped to zone `eu`") {
		t.Errorf("zone reason = %q", nf.Zone.Why)
	}
	fleet[nf.Path] = &fstest.MapFile{Data: nf.Data}
	f, err := desired.Load(fleet)
	if err != nil {
		t.Fatalf("desired.Load with the new node: %v", err)
	}
	n := f.Node(nf.Node.Name)
	if n == nil || !sameChainFields(n, r) || !n.Admitted || n.Zone != "eu" || n.Weight != nil {
		t.Fatalf("loaded node = %+v", n)
	}
}

// Every valid record round-trips through the file, whatever YAML would make
// of its values unquoted.
func TestNodeFileRoundTrip(t *testing.T) {
	for _, edit := range []func(*chain.Record){
		func(*chain.Record) {},
		func(r *chain.Record) { r.Host = "2001:db8::1" },
		func(r *chain.Record) { r.PubKey = "0x" + strings.Repeat("0", 63) + "1" }, // a number to YAML 1.1
		func(r *chain.Record) { r.Domain, r.SSL, r.Mode = "true", true, "dac" },
		func(r *chain.Record) { r.Host, r.HTTPPort = "null", 65535 },
	} {
		r := testRecord(2)
		edit(&r)
		if p := CheckRecord(r); len(p) > 0 {
			t.Fatalf("record %+v invalid: %v", r, p)
		}
		fleet := testFleet(t, nil)
		idx, _ := indexNodes(fleet)
		nf, err := testConfig().buildNodeFile(idx, zoneSet(fleet), r)
		if err != nil {
			t.Fatal(err)
		}
		var n desired.Node
		var errs desired.Errors
		if !desired.DecodeBytes(nf.Path, nf.Data, desired.KindNode, &n, &desired.Source{}, &errs) || len(errs) > 0 {
			t.Fatalf("decoding %s: %v\n%s", nf.Path, errs, nf.Data)
		}
		if !sameChainFields(&n, r) {
			t.Fatalf("round trip of %+v gave %+v\n%s", r, n, nf.Data)
		}
	}
}

// A name taken by another key gets a longer name; an existing file for the
// same key keeps its name and the fields people own.
func TestBuildNodeFileNamesAndKeptFields(t *testing.T) {
	r := testRecord(3)
	hex := strings.TrimPrefix(r.PubKey, "0x")
	squatter := strings.Replace(mustRead(t, "../examples/fleet/nodes/eu-node-1.yaml"), "name: eu-node-1", "name: node-"+hex[:12], 1)
	fleet := testFleet(t, map[string]string{"nodes/node-" + hex[:12] + ".yaml": squatter})
	delete(fleet, "nodes/eu-node-1.yaml")
	idx, err := indexNodes(fleet)
	if err != nil {
		t.Fatal(err)
	}
	nf, err := testConfig().buildNodeFile(idx, zoneSet(fleet), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "node-" + hex[:16]; nf.Node.Name != want {
		t.Fatalf("name = %s, want %s (the 12-digit name belongs to another key)", nf.Node.Name, want)
	}

	// eu-node-1, moved to us by a person, weight 50, draining, held out.
	ex := strings.NewReplacer("zone: eu", "zone: us", "weight: 100", "weight: 50", "admitted: true", "admitted: false\nstate: drain").
		Replace(mustRead(t, "../examples/fleet/nodes/eu-node-1.yaml"))
	fleet = testFleet(t, map[string]string{"nodes/eu-node-1.yaml": ex})
	idx, _ = indexNodes(fleet)
	var n desired.Node
	var errs desired.Errors
	desired.DecodeBytes("x.yaml", []byte(ex), desired.KindNode, &n, &desired.Source{}, &errs)
	r2 := chain.Record{PubKey: n.PubKey, ProviderID: n.ProviderID, ClusterID: n.ClusterID, Host: "198.18.2.77", Domain: n.Domain,
		HTTPPort: 8081, GRPCPort: 9091, P2PPort: 9070, Mode: "cache"}
	nf, err = testConfig().buildNodeFile(idx, zoneSet(fleet), r2)
	if err != nil {
		t.Fatal(err)
	}
	got := nf.Node
	if nf.Path != "nodes/eu-node-1.yaml" || got.Name != "eu-node-1" || got.Zone != "us" || *got.Weight != 50 || got.Admitted || got.State != "drain" {
		t.Fatalf("kept fields lost: %+v", got)
	}
	if got.Host != "198.18.2.77" || got.HTTPPort != 8081 || got.Mode != "cache" {
		t.Fatalf("chain fields not applied: %+v", got)
	}
	if !strings.Contains(nf.Zone.Why, "kept from `nodes/eu-node-1.yaml`") || strings.Join(nf.Kept, ",") != "name,zone,weight,admitted: false,state" {
		t.Fatalf("zone reason %q, kept %v", nf.Zone.Why, nf.Kept)
	}
}

func TestChooseZone(t *testing.T) {
	other := "0x" + strings.Repeat("ab", 20)
	cases := []struct {
		name, cluster, def, zone, why string
	}{
		{"mapped", usCluster, "eu", "us", "mapped to zone `us`"},
		{"default", other, "eu", "eu", "default zone `eu`"},
		{"none", other, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			c.DefaultZone = tc.def
			zc, err := c.chooseZone(tc.cluster)
			if tc.zone == "" {
				if err == nil {
					t.Fatalf("chooseZone = %+v, want an error", zc)
				}
				return
			}
			if err != nil || zc.Zone != tc.zone || !strings.Contains(zc.Why, tc.why) {
				t.Fatalf("chooseZone = %+v, %v; want zone %s, reason with %q", zc, err, tc.zone, tc.why)
			}
		})
	}
}

func TestParseClusterZones(t *testing.T) {
	got, err := ParseClusterZones(" 0x" + strings.ToUpper(euCluster[2:]) + "=eu, " + usCluster + "=us ,")
	if err != nil || len(got) != 2 || got[euCluster] != "eu" || got[usCluster] != "us" {
		t.Fatalf("ParseClusterZones = %v, %v", got, err)
	}
	for _, bad := range []string{"eu", "0x01=eu", euCluster + "=bad zone", euCluster + "=eu," + euCluster + "=us"} {
		if _, err := ParseClusterZones(bad); err == nil {
			t.Errorf("ParseClusterZones(%q) accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no state dir", func(c *Config) { c.StateDir = "" }, "state directory"},
		{"bad cluster", func(c *Config) { c.ClusterZones = map[string]string{"0xAB": "eu"} }, "cluster id"},
		{"bad zone", func(c *Config) { c.DefaultZone = "eu zone" }, "default zone"},
		{"bad email", func(c *Config) { c.Author.Email = "Bot <bot@x>" }, "author email"},
		{"github without repo", func(c *Config) { c.Forge = ForgeConfig{Kind: ForgeGitHub, Owner: "acme"} }, "owner and repository"},
		{"unknown forge", func(c *Config) { c.Forge.Kind = "gitlab" }, "want github or none"},
		{"bad label", func(c *Config) { c.Labels = []string{"a,b"} }, "label"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{StateDir: "/tmp/x"}
			tc.edit(&c)
			c.setDefaults()
			err := c.validate()
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("validate = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// In a sharded fleet (nodeLayout: sharded) a new node's file goes to its
// shard, with the schema modeline one level further up, and the fleet
// validates with it; an existing node in a shard is found by its key and
// stays where it is.
func TestBuildNodeFileShardedLayout(t *testing.T) {
	fleet := testFleet(t, nil)
	fleet[desired.FleetFile].Data = []byte(strings.Replace(string(fleet[desired.FleetFile].Data), "\nname: ddc\n", "\nname: ddc\nnodeLayout: sharded\n", 1))
	for p, f := range fleet {
		if dir, base := path.Split(p); dir == desired.NodesDir+"/" {
			delete(fleet, p)
			fleet[desired.NodeFile(desired.NodeLayoutSharded, strings.TrimSuffix(base, ".yaml"))] = f
		}
	}
	if _, err := desired.Load(fleet); err != nil {
		t.Fatalf("the sharded example fleet: %v", err)
	}
	idx, err := indexNodes(fleet)
	if err != nil {
		t.Fatal(err)
	}
	if idx.layout != desired.NodeLayoutSharded || len(idx.byName) != 6 {
		t.Fatalf("index: layout %q, %d nodes; want sharded, the example's 6", idx.layout, len(idx.byName))
	}
	r := testRecord(1)
	nf, err := testConfig().buildNodeFile(idx, zoneSet(fleet), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := desired.NodeFile(desired.NodeLayoutSharded, "node-a11ce0010000"); nf.Path != want {
		t.Fatalf("path = %s, want %s", nf.Path, want)
	}
	if !strings.HasPrefix(string(nf.Data), "# yaml-language-server: $schema=../../schemas/node.schema.json\n") {
		t.Errorf("modeline of %s:\n%s", nf.Path, nf.Data)
	}
	fleet[nf.Path] = &fstest.MapFile{Data: nf.Data}
	if _, err := desired.Load(fleet); err != nil {
		t.Fatalf("desired.Load with the new node: %v", err)
	}

	// eu-node-1's key again: its file in its shard is updated in place.
	var n desired.Node
	var errs desired.Errors
	ex := desired.NodeFile(desired.NodeLayoutSharded, "eu-node-1")
	desired.DecodeBytes(ex, fleet[ex].Data, desired.KindNode, &n, &desired.Source{}, &errs)
	r2 := chain.Record{PubKey: n.PubKey, ProviderID: n.ProviderID, ClusterID: n.ClusterID, Host: "198.18.1.77", Domain: n.Domain,
		HTTPPort: 8081, GRPCPort: 9091, P2PPort: 9070, Mode: "cache"}
	nf, err = testConfig().buildNodeFile(idx, zoneSet(fleet), r2)
	if err != nil {
		t.Fatal(err)
	}
	if nf.Path != ex || nf.Existing == nil || nf.Node.Name != "eu-node-1" {
		t.Fatalf("update of eu-node-1: path %s, existing %v, name %s", nf.Path, nf.Existing != nil, nf.Node.Name)
	}
}

// A fleet.yaml the bot cannot read the layout from stops the index with
// the reason.
func TestIndexNodesBadLayout(t *testing.T) {
	fleet := testFleet(t, nil)
	fleet[desired.FleetFile].Data = append(fleet[desired.FleetFile].Data, "nodeLayout: deep\n"...)
	if _, err := indexNodes(fleet); err == nil || !strings.Contains(err.Error(), `nodeLayout "deep" is not one of flat, sharded`) {
		t.Fatalf("indexNodes = %v", err)
	}
}
