package reconciler

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/ddc-gitops/ddc-gitops/secrets"
)

// SecretInstaller puts the repository's encrypted secrets for this host
// into its crt-base (package secrets: *secrets.Installer) and returns the
// names it wrote.
type SecretInstaller interface {
	Install(fsys fs.FS) ([]string, error)
}

// installSecrets runs the SecretInstaller, if any, before a revision is
// rendered and checked, so `haproxy -c` sees its certificates. A file no
// host could decrypt stalls the revision; a write error is retried.
func (a *Agent) installSecrets(rev string, fsys fs.FS) error {
	if a.cfg.Secrets == nil {
		return nil
	}
	written, err := a.cfg.Secrets.Install(fsys)
	var bad *secrets.BadFileError
	if errors.As(err, &bad) {
		return stalledError{fmt.Errorf("revision %s: secret %w", short(rev), err)}
	}
	if err != nil {
		return fmt.Errorf("installing the secrets of revision %s: %w", short(rev), err)
	}
	if len(written) > 0 {
		a.log.Info("secrets decrypted into crt-base", "revision", short(rev), "files", written)
	}
	return nil
}
