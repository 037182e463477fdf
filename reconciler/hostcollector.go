package reconciler

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ddc-gitops/ddc-gitops/reconciler/keepalived"
)

// hostCollector reads the host at scrape time: the notAfter of every
// certificate haproxy.cfg references, and which of keepalived.conf's VIPs
// this host holds.
type hostCollector struct {
	haproxyConfig string
	keepalived    *keepalived.Driver // nil: keepalived not managed
	log           *slog.Logger

	certExpiry *prometheus.Desc
	vipHeld    *prometheus.Desc
}

func newHostCollector(haproxyConfig string, ka *keepalived.Driver, log *slog.Logger) *hostCollector {
	return &hostCollector{
		haproxyConfig: haproxyConfig, keepalived: ka, log: log,
		certExpiry: prometheus.NewDesc("ddc_gitops_agent_certificate_expiry_timestamp_seconds",
			"Unix time of the notAfter of each certificate haproxy.cfg references (crt of bind and server lines; the leaf of each PEM file).",
			[]string{"cert"}, nil),
		vipHeld: prometheus.NewDesc("ddc_gitops_agent_keepalived_vip_held",
			"1 when this host holds the VIP (keepalived is MASTER for its instance), 0 otherwise; one series per VIP of keepalived.conf.",
			[]string{"vrrp_instance", "vip"}, nil),
	}
}

func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.certExpiry
	ch <- c.vipHeld
}

func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	if cfg, err := os.ReadFile(c.haproxyConfig); err == nil {
		for _, path := range CertificatePaths(cfg, filepath.Dir(c.haproxyConfig)) {
			files, err := certFiles(path)
			if err != nil {
				c.log.Warn("reading a certificate haproxy.cfg references", "cert", path, "err", err)
				continue
			}
			for _, f := range files {
				na, err := CertificateNotAfter(f)
				if err != nil {
					c.log.Warn("reading a certificate haproxy.cfg references", "cert", f, "err", err)
					continue
				}
				ch <- prometheus.MustNewConstMetric(c.certExpiry, prometheus.GaugeValue, float64(na.Unix()), f)
			}
		}
	}
	if c.keepalived == nil {
		return
	}
	conf, err := os.ReadFile(cmp.Or(c.keepalived.ConfigPath, keepalived.DefaultConfigPath))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, v := range KeepalivedVIPs(conf) {
		held, err := keepalived.State(ctx, c.keepalived.Netns, v.Interface, v.Address)
		if err != nil {
			c.log.Warn("reading VIP state", "vip", v.Address, "err", err)
			continue
		}
		val := 0.0
		if held {
			val = 1
		}
		ch <- prometheus.MustNewConstMetric(c.vipHeld, prometheus.GaugeValue, val, v.Instance, v.Address)
	}
}

// CertificatePaths returns the certificate paths an haproxy.cfg references
// with the crt keyword (bind and server lines), resolved against its
// crt-base, or dir when it has none, in order of first appearance.
func CertificatePaths(cfg []byte, dir string) []string {
	var base string
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(cfg))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "crt-base" {
			base = f[1]
			continue
		}
		if len(f) == 0 || (f[0] != "bind" && f[0] != "server" && f[0] != "default-server") {
			continue
		}
		for i := 1; i+1 < len(f); i++ {
			if f[i] != "crt" {
				continue
			}
			p := f[i+1]
			if !filepath.IsAbs(p) {
				p = filepath.Join(cmp.Or(base, dir), p)
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// certFiles is path, or the files of directory path as HAProxy loads them
// (key, OCSP, issuer and SCT files left out).
func certFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		switch filepath.Ext(e.Name()) {
		case ".key", ".ocsp", ".issuer", ".sctl":
			continue
		}
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	return out, nil
}

// CertificateNotAfter returns the notAfter of the first certificate in the
// PEM file at path (HAProxy's leaf certificate).
func CertificateNotAfter(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return time.Time{}, fmt.Errorf("%s: no PEM certificate", path)
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: parsing the certificate: %w", path, err)
		}
		return c.NotAfter, nil
	}
}

// VIP is one address of a keepalived vrrp_instance.
type VIP struct {
	Instance, Interface, Address string
}

// KeepalivedVIPs lists the virtual_ipaddress entries of every vrrp_instance
// of a keepalived.conf as ddc-gitops renders it (one directive per line),
// with the interface they are added on (dev, or the instance's interface).
func KeepalivedVIPs(conf []byte) []VIP {
	var out []VIP
	var inst, iface string
	var pending []VIP // this instance's VIPs, before its interface may be known
	depth, vipDepth := 0, -1
	flush := func() {
		for _, v := range pending {
			v.Interface = cmp.Or(v.Interface, iface)
			out = append(out, v)
		}
		pending = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(conf))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line, _, _ = strings.Cut(line, "!")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "}":
			depth--
			if depth == vipDepth {
				vipDepth = -1
			}
			if depth == 0 && inst != "" {
				flush()
				inst, iface = "", ""
			}
			continue
		case depth == 0 && f[0] == "vrrp_instance" && len(f) >= 2:
			inst = f[1]
		case depth == 1 && inst != "" && f[0] == "interface" && len(f) == 2:
			iface = f[1]
		case depth == 1 && inst != "" && f[0] == "virtual_ipaddress":
			vipDepth = depth
		case vipDepth >= 0 && depth == vipDepth+1:
			v := VIP{Instance: inst, Address: f[0]}
			if a, _, ok := strings.Cut(f[0], "/"); ok {
				v.Address = a
			}
			for i := 1; i+1 < len(f); i++ {
				if f[i] == "dev" {
					v.Interface = f[i+1]
				}
			}
			pending = append(pending, v)
		}
		if f[len(f)-1] == "{" {
			depth++
		}
	}
	return out
}
