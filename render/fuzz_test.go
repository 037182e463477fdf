package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// exampleFS loads the example fleet's YAML files into a MapFS and lists
// them, sorted.
func exampleFS(t testing.TB) (fstest.MapFS, []string) {
	t.Helper()
	root := exampleDir(t)
	m := fstest.MapFS{}
	var names []string
	err := fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: data, Mode: 0o644}
		names = append(names, p)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the example fleet: %v", err)
	}
	return m, names
}

// fuzzSeeds are one seed per example file: the file's index, then its bytes.
func fuzzSeeds(t testing.TB) [][]byte {
	m, names := exampleFS(t)
	seeds := make([][]byte, len(names))
	for i, n := range names {
		seeds[i] = append([]byte{byte(i)}, m[n].Data...)
	}
	return seeds
}

// FuzzLoadRender overlays the fuzzed bytes as one file of the example fleet
// (the first byte picks which) and, when desired.Load accepts the result,
// renders every host: rendering must not fail, every haproxy.cfg must pass
// the real haproxy -c, and reading its backends back must give what was
// rendered.
func FuzzLoadRender(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	base, names := exampleFS(f)
	certDir := exampleCertDir(f)
	pem, err := os.ReadFile(filepath.Join(certDir, "ddc-example.pem"))
	if err != nil {
		f.Fatal(err)
	}
	haveHAProxy := true
	if _, err := os.Stat(haproxyBin); err != nil {
		haveHAProxy = false
	}
	// Configs already checked by haproxy -c in this worker: most accepted
	// mutations render a config seen before.
	var checked sync.Map
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		fsys := make(fstest.MapFS, len(base))
		for k, v := range base {
			fsys[k] = v
		}
		target := names[int(data[0])%len(names)]
		fsys[target] = &fstest.MapFile{Data: data[1:], Mode: 0o644}
		fl, err := desired.Load(fsys)
		if err != nil {
			return
		}
		opts := Options{FleetDir: exampleDir(t), CrtBase: certDir}
		// Certificates the fuzzer named must exist for haproxy -c.
		custom := false
		for _, z := range fl.Zones {
			for _, fe := range z.Frontends {
				if fe.TLS == nil || fe.TLS.Certificate == "ddc-example.pem" {
					continue
				}
				if path.IsAbs(fe.TLS.Certificate) {
					t.Skipf("certificate %s is absolute: haproxy -c would need it on this machine", fe.TLS.Certificate)
				}
				custom = true
			}
		}
		if custom {
			dir := t.TempDir()
			opts.CrtBase = dir
			for _, z := range fl.Zones {
				for _, fe := range z.Frontends {
					if fe.TLS == nil {
						continue
					}
					p := filepath.Join(dir, filepath.FromSlash(fe.TLS.Certificate))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Skipf("certificate path %s: %v", fe.TLS.Certificate, err)
					}
					if err := os.WriteFile(p, pem, 0o644); err != nil {
						t.Skipf("certificate path %s: %v", fe.TLS.Certificate, err)
					}
				}
			}
		}
		hosts, err := RenderAll(fl, opts)
		if err != nil {
			t.Fatalf("Load accepted the fleet (%s changed) but RenderAll failed: %v", target, err)
		}
		for _, h := range hosts {
			got, err := readBackends(h.HAProxy)
			if err != nil {
				t.Fatalf("%s: ReadBackends: %v", h.Name, err)
			}
			if want := normalizeDrain(h.Backends); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: read back\n%s\nwant\n%s", h.Name, dumpBackends(got), dumpBackends(want))
			}
			// Hosts of a zone differ only in the first line.
			sum := sha256.Sum256(h.HAProxy[bytes.IndexByte(h.HAProxy, '\n')+1:])
			if _, seen := checked.Load(sum); haveHAProxy && !seen {
				if err := haproxyCheck(t, h.HAProxy); err != nil {
					t.Fatalf("%s (%s changed): %v\n%s", h.Name, target, err, h.HAProxy)
				}
				checked.Store(sum, true)
			}
		}
	})
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzLoadRender in step with the
// example fleet (-update rewrites it).
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzLoadRender")
	_, names := exampleFS(t)
	for i, s := range fuzzSeeds(t) {
		name := "seed-" + strings.NewReplacer("/", "-", ".yaml", "").Replace(names[i])
		p := filepath.Join(dir, name)
		data := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n")
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%v (run go test ./render -run FuzzSeedCorpus -update)", err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s is stale: the example file %s changed (run with -update)", p, names[i])
		}
	}
}

// FuzzRenderFields sets fields of the example fleet to fuzzed values
// (strings that reach the configs, numbers and durations at their limits)
// and, when desired.Validate accepts the result, checks every host's
// haproxy.cfg with haproxy -c and its keepalived.conf with keepalived -t.
// Unlike FuzzLoadRender, whose byte mutations mostly produce invalid YAML,
// most of its inputs are valid fleets.
func FuzzRenderFields(f *testing.F) {
	f.Add("eu", "/grpc.health.v1.Health/", "", "/health", "", "198.51.100.7", uint16(8080), "roundrobin", "TLSv1.2", "/stats", "/metrics",
		int64(30000), int64(10000), int64(2000), 100, 500, 3, 0, int64(1000), int64(5000), 0, 150, 100)
	f.Add("a (b) [c] {d} <e> ?&|^'-", "/a;b=c:d@e", "x.example", "/h!*+,~", "h.example", "2001:db8::1", uint16(1), "static-rr", "TLSv1.3", "/s", "/m",
		int64(1), int64(0), int64(100), 0, 0, 0, 64, int64(10), int64(0), -253, 254, 2)
	needHAProxy(f)
	keepalived, err := exec.LookPath("keepalived")
	if err != nil {
		f.Skip("keepalived is not installed")
	}
	ns := netns(f, []string{"eth0"})
	certDir := exampleCertDir(f)
	var checked sync.Map
	f.Fuzz(func(t *testing.T, header, pathPrefix, routeHost, checkPath, checkHost, serverAddr string, serverPort uint16,
		balance, minVersion, statsURI, metricsPath string, serverTimeoutMS, slowstartMS, intervalMS int64,
		weight, maxconn, retries, nbthread int, advertMS, preemptMS int64, trackWeight, ownerPrio, hostPrio int) {
		fl := loadExample(t)
		ms := func(v int64) desired.Duration { return desired.Duration(v * int64(time.Millisecond)) }
		z := fl.Zones[0]
		fe := z.Frontends[0]
		fe.SetHeaders[0].Value = header
		fe.Routes[0].PathPrefix = pathPrefix
		fe.Routes[0].Host = routeHost
		z.Frontends[1].TLS.MinVersion = minVersion
		z.Stats.URI, z.Stats.MetricsPath = statsURI, metricsPath
		b := fl.Backends[1] // ddc_nodes_http
		b.Check.Path, b.Check.HostHeader, b.Check.Interval = checkPath, checkHost, ms(intervalMS)
		b.Balance = balance
		b.Timeouts.Server = ms(serverTimeoutMS)
		b.ServerDefaults.Slowstart = ms(slowstartMS)
		b.ServerDefaults.Weight, b.ServerDefaults.Maxconn, b.Retries = &weight, &maxconn, &retries
		b.Servers = []*desired.Server{{Name: "static", Address: serverAddr, Port: int(serverPort), State: "ready"}}
		fl.HAProxy.Nbthread = nbthread
		k := &fl.Keepalived
		k.AdvertInt, k.PreemptDelay, k.TrackWeight, k.OwnerPriority = ms(advertMS), ms(preemptMS), trackWeight, ownerPrio
		for _, h := range z.Hosts {
			h.Priority = hostPrio
		}
		if errs := desired.Validate(fl); len(errs) > 0 {
			return
		}
		hosts, err := RenderAll(fl, Options{FleetDir: exampleDir(t), CrtBase: certDir})
		if err != nil {
			t.Fatalf("Validate accepted the fleet but RenderAll failed: %v", err)
		}
		for _, h := range hosts {
			if h.Zone != z.Name {
				continue // only zone eu changed, apart from fleet-wide settings
			}
			sum := sha256.Sum256(append(h.HAProxy[bytes.IndexByte(h.HAProxy, '\n')+1:], h.Keepalived...))
			if _, seen := checked.Load(sum); seen {
				continue
			}
			if err := haproxyCheck(t, h.HAProxy); err != nil {
				t.Fatalf("%s: %v\n%s", h.Name, err, h.HAProxy)
			}
			p := writeTemp(t, "keepalived.conf", h.Keepalived)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, keepalived, "-t", "-f", p).CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("%s: keepalived -t: %v\n%s\n%s", h.Name, err, out, h.Keepalived)
			}
			checked.Store(sum, true)
		}
	})
}
