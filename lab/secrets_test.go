package lab_test

import (
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/ddc-gitops/ddc-gitops/examples"
	"github.com/ddc-gitops/ddc-gitops/secrets"
)

// checkHTTPSDecryptedCert checks the encrypted-secrets path end to end on
// the lab: the fleet repository holds the example key only encrypted
// (secrets/ddc-example.pem.age), each EU host's agent decrypted it with its
// own identity into its crt-base with mode 0600, and the EU HTTPS frontend
// on each VIP serves exactly that certificate.
func checkHTTPSDecryptedCert(t *testing.T, vips []string, state string) {
	t.Helper()
	raw, err := os.ReadFile("../examples/fleet/secrets/ddc-example.pem.age")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatal("the example fleet holds a plaintext key")
	}
	id, _ := examples.LabIdentity("eu-haproxy-1")
	ids, err := age.ParseIdentities(bytes.NewReader(id))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := secrets.Decrypt(raw, ids)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(plain)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("the decrypted example does not start with a certificate")
	}
	for _, host := range []string{"eu-haproxy-1", "eu-haproxy-2"} {
		file := filepath.Join(state, "hosts", host, "certs", "ddc-example.pem")
		st, err := os.Stat(file)
		if err != nil {
			t.Errorf("%s: the agent did not decrypt the certificate: %v", host, err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %s has mode %v, want 0600", host, file, st.Mode().Perm())
		}
		if got, _ := os.ReadFile(file); !bytes.Equal(got, plain) {
			t.Errorf("%s: %s differs from the decrypted example", host, file)
		}
	}
	for _, vip := range vips {
		addr := net.JoinHostPort(vip, "443")
		waitFor(t, 20*time.Second, "HTTPS on "+addr, func() error {
			d := &net.Dialer{Timeout: 2 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "eu.ddc.example"})
			if err != nil {
				return err
			}
			defer c.Close()
			certs := c.ConnectionState().PeerCertificates
			if len(certs) == 0 || !bytes.Equal(certs[0].Raw, block.Bytes) {
				return fmt.Errorf("served a certificate other than the decrypted example")
			}
			return nil
		})
	}
	t.Logf("eu: HTTPS on %v serves the certificate each host decrypted (mode 0600); the repository holds it encrypted only", vips)
}
