package render_test

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/reconciler/pdns"
	"github.com/ddc-gitops/ddc-gitops/render"
)

const (
	goldenSerial   = 1796000000
	goldenRevision = "0123456789abcdef0123456789abcdef01234567"
)

// exampleFS is the example fleet with overlay's files added or replaced.
func exampleFS(t testing.TB, overlay map[string]string) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	root := os.DirFS("../examples/fleet")
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(root, p)
		m[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, s := range overlay {
		m[p] = &fstest.MapFile{Data: []byte(s)}
	}
	return m
}

// threeZones adds a zone "ap" without client networks that fails over to
// eu, and makes us the default zone.
func threeZones(t testing.TB) fs.FS {
	t.Helper()
	fleet, err := os.ReadFile("../examples/fleet/fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return exampleFS(t, map[string]string{
		"fleet.yaml": strings.Replace(string(fleet), "defaultZone: eu", "defaultZone: us", 1),
		"zones/ap/zone.yaml": `kind: Zone
name: ap
network: {cidr: 198.18.3.0/24}
failover: [eu]
vips:
  - {name: ap-vip-1, address: 198.18.3.100, routerId: 53}
hosts:
  - {name: ap-haproxy-1, address: 198.18.3.11, owns: [ap-vip-1]}
frontends:
  - name: http_in
    binds: [{port: 80}]
    defaultBackend: ddc_nodes_http
`})
}

// TestDNSGolden renders the zone of each case, compares it with
// testdata/pdns/<case>.zone (-update rewrites them) and checks it with the
// real pdnsutil.
func TestDNSGolden(t *testing.T) {
	if _, err := exec.LookPath(pdns.DefaultUtilBin); err != nil {
		t.Skip("pdnsutil not installed (pdns-server, pdns-backend-bind)")
	}
	update := flag.Lookup("update").Value.(flag.Getter).Get().(bool)
	for name, fsys := range map[string]fs.FS{"example": exampleFS(t, nil), "three-zones": threeZones(t)} {
		t.Run(name, func(t *testing.T) {
			f, err := desired.Load(fsys)
			if err != nil {
				t.Fatalf("loading: %v", err)
			}
			z, err := render.RenderDNS(f, goldenSerial, goldenRevision)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "pdns", name+".zone")
			if update {
				if err := os.WriteFile(golden, z.File, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(z.File, want) {
				t.Errorf("%s differs from the rendered zone:\n%s", golden, z.File)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := pdns.Check(ctx, "", z); err != nil {
				t.Errorf("pdnsutil rejects the golden zone: %v", err)
			}
		})
	}
}

// TestDNSCheckRejects shows that the check is real: pdnsutil refuses a zone
// file with a broken record.
func TestDNSCheckRejects(t *testing.T) {
	if _, err := exec.LookPath(pdns.DefaultUtilBin); err != nil {
		t.Skip("pdnsutil not installed")
	}
	f, err := desired.Load(exampleFS(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	z, err := render.RenderDNS(f, 1, goldenRevision)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"broken IN A 198.18.1.300\n", "www IN CNAME other.ddc.example.\n", "mx IN MX notanumber x.ddc.example.\n"} {
		zz := *z
		zz.File = append(append([]byte(nil), z.File...), bad...)
		if err := pdns.Check(context.Background(), "", &zz); err == nil {
			t.Errorf("Check accepted a zone with %q", bad)
		}
	}
}

// TestRenderDNSOrder checks the answer order of each client zone: its own
// VIPs, then its failover zones, then the rest; the default zone answers
// everyone else.
func TestRenderDNSOrder(t *testing.T) {
	f, err := desired.Load(threeZones(t))
	if err != nil {
		t.Fatal(err)
	}
	z, err := render.RenderDNS(f, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(z.Records) != 2 || z.Records[0].Name != "api.ddc.example." || z.Records[1].Name != "www.ddc.example." {
		t.Fatalf("records = %+v", z.Records)
	}
	got := map[string]string{}
	for _, a := range z.Records[1].Answers {
		var zones []string
		for _, s := range a.Sets {
			zones = append(zones, s.Zone)
		}
		got[a.Zone] = strings.Join(zones, ",")
	}
	want := map[string]string{"eu": "eu,us,ap", "us": "us,eu,ap"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("clients of %s are answered in order %q, want %q", k, got[k], v)
		}
	}
	if z.Records[1].Default != "us" {
		t.Errorf("default zone %q, want us", z.Records[1].Default)
	}
	if strings.Contains(string(z.File), "_ddc-revision") {
		t.Errorf("a zone rendered without revision has a revision record")
	}
	if want := "return ifurlup('http://www.ddc.example:80/health', {{'198.18.2.100','198.18.2.101'},{'198.18.1.100','198.18.1.101'},{'198.18.3.100'}}"; !strings.Contains(string(z.File), want) {
		t.Errorf("the default answer is not us first:\n%s", z.File)
	}
}

// TestRenderDNSRefusesUnsafe shows that a fleet which bypassed validation
// still cannot put Lua or zone-file syntax into the zone.
func TestRenderDNSRefusesUnsafe(t *testing.T) {
	for name, mutate := range map[string]func(f *desired.Fleet){
		"record name": func(f *desired.Fleet) { f.DNS.Records[0].Name = "www') os.execute('id') --" },
		"check path":  func(f *desired.Fleet) { f.DNS.Records[0].CheckPath = "/x'..y..'" },
		"zone":        func(f *desired.Fleet) { f.DNS.Zone = "ddc.example. IN NS x." },
		"nameserver":  func(f *desired.Fleet) { f.DNS.Nameservers[0].Name = "ns1 IN A" },
	} {
		t.Run(name, func(t *testing.T) {
			f, err := desired.Load(exampleFS(t, nil))
			if err != nil {
				t.Fatal(err)
			}
			mutate(f)
			if z, err := render.RenderDNS(f, 1, goldenRevision); err == nil {
				t.Errorf("rendered:\n%s", z.File)
			}
		})
	}
	f, err := desired.Load(exampleFS(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := render.RenderDNS(f, 1, "x'"); err == nil {
		t.Error("an unsafe revision was rendered")
	}
}

// fleet100 is the example fleet with 100 DNS records.
func fleet100(b *testing.B) *desired.Fleet {
	fleet, err := os.ReadFile("../examples/fleet/fleet.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var recs strings.Builder
	for i := range 100 {
		recs.WriteString("    - name: r" + strconv.Itoa(i) + "\n      frontend: http_in\n")
	}
	text := string(fleet)
	text = text[:strings.Index(text, "  records:\n")] + "  records:\n" + recs.String()
	f, err := desired.Load(exampleFS(b, map[string]string{"fleet.yaml": text}))
	if err != nil {
		b.Fatal(err)
	}
	if len(f.DNS.Records) != 100 {
		b.Fatalf("%d records", len(f.DNS.Records))
	}
	return f
}

// BenchmarkRenderCheck100 renders a zone of 100 records and checks it with
// the real pdnsutil (a process per check dominates).
func BenchmarkRenderCheck100(b *testing.B) {
	if _, err := exec.LookPath(pdns.DefaultUtilBin); err != nil {
		b.Skip("pdnsutil not installed")
	}
	f := fleet100(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z, err := render.RenderDNS(f, uint32(i+1), goldenRevision)
		if err != nil {
			b.Fatal(err)
		}
		if err := pdns.Check(context.Background(), "", z); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderDNS100 renders a zone of 100 records.
func BenchmarkRenderDNS100(b *testing.B) {
	f := fleet100(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := render.RenderDNS(f, uint32(i+1), goldenRevision); err != nil {
			b.Fatal(err)
		}
	}
}
