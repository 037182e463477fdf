package reconciler

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

// writeCert writes a self-signed certificate expiring at notAfter, followed
// by its key, as HAProxy reads a crt file.
func writeCert(t *testing.T, path string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: filepath.Base(path)},
		NotBefore: notAfter.Add(-24 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			k := f.GetName()
			for _, l := range m.GetLabel() {
				k += fmt.Sprintf(" %s=%s", l.GetName(), l.GetValue())
			}
			out[k] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestHostCollector(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "certs")
	soon, later, client := time.Unix(1900000000, 0), time.Unix(2000000000, 0), time.Unix(2100000000, 0)
	writeCert(t, filepath.Join(base, "site.pem"), soon)
	writeCert(t, filepath.Join(base, "many", "a.pem"), later)
	writeCert(t, filepath.Join(base, "many", "b.pem"), soon)
	if err := os.WriteFile(filepath.Join(base, "many", "b.pem.key"), []byte("not a cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeCert(t, filepath.Join(dir, "client.pem"), client)
	cfg := fmt.Sprintf(`global
    crt-base %s
frontend web
    bind 198.18.1.100:443 ssl crt site.pem alpn h2 # crt commented.pem
    bind 198.18.1.100:8443 ssl crt site.pem crt many
backend b
    server s1 198.18.1.20:443 ssl crt %s verify none
`, base, filepath.Join(dir, "client.pem"))
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ka := `vrrp_instance v-lo {
    state BACKUP
    interface lo
    virtual_ipaddress {
        127.0.0.1/8
        198.18.99.1/24 dev lo
    }
}
`
	kaPath := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(kaPath, []byte(ka), 0o644); err != nil {
		t.Fatal(err)
	}
	got := gather(t, newHostCollector(cfgPath, &keepalived.Driver{ConfigPath: kaPath}, slog.New(slog.DiscardHandler)))
	const exp = "ddc_gitops_agent_certificate_expiry_timestamp_seconds cert="
	want := map[string]float64{
		exp + filepath.Join(base, "site.pem"):                                     float64(soon.Unix()),
		exp + filepath.Join(base, "many", "a.pem"):                                float64(later.Unix()),
		exp + filepath.Join(base, "many", "b.pem"):                                float64(soon.Unix()),
		exp + filepath.Join(dir, "client.pem"):                                    float64(client.Unix()),
		"ddc_gitops_agent_keepalived_vip_held vip=127.0.0.1 vrrp_instance=v-lo":   1,
		"ddc_gitops_agent_keepalived_vip_held vip=198.18.99.1 vrrp_instance=v-lo": 0,
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func TestKeepalivedVIPsRendered(t *testing.T) {
	conf, err := os.ReadFile("../render/testdata/argv0/eu-haproxy-1.keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	got := KeepalivedVIPs(conf)
	want := []VIP{{"eu-vip-1", "eth0", "198.18.1.100"}, {"eu-vip-2", "eth0", "198.18.1.101"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("KeepalivedVIPs = %v, want %v", got, want)
	}
}
