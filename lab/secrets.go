package lab

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ddc-gitops/ddc-gitops/examples"
)

// ageIdentity gives a lab host the example age identity of its name, as a
// production host has its own in /etc/ddc-gitops/age.key: its agent then
// decrypts the fleet's secrets/NAME.age encrypted to it into a crt-base of
// its own (HOSTDIR/certs, seeded with the shared certificates, if any).
// Hosts without an example identity keep the shared crt-base.
func (l *lab) ageIdentity(host, hostDir string) ([]string, error) {
	id, ok := examples.LabIdentity(host)
	if !ok {
		return nil, nil
	}
	crtBase := filepath.Join(hostDir, "certs")
	shared := filepath.Join(l.o.StateDir, "certs")
	if _, err := os.Stat(shared); err == nil {
		if err := copyDir(shared, crtBase); err != nil {
			return nil, fmt.Errorf("lab: certificates of %s: %w", host, err)
		}
	} else if err := os.MkdirAll(crtBase, 0o700); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	file := filepath.Join(hostDir, "age.key")
	if err := os.WriteFile(file, id, 0o600); err != nil {
		return nil, fmt.Errorf("lab: the age identity of %s: %w", host, err)
	}
	return []string{"--crt-base", crtBase, "--age-identity", file}, nil
}
