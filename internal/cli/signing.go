package cli

import (
	"fmt"
	"log/slog"

	"golang.org/x/crypto/ssh"

	"github.com/ddc-gitops/ddc-gitops/gittree"
)

// signingKeyUsage is the help of --signing-key (and --bot-signing-key).
const signingKeyUsage = "unencrypted SSH private key file (ed25519, ECDSA or RSA; mode 0600) that signs every commit this process writes, in git's gpg.format=ssh format, for agents with --trust-policy (docs/trust.md)"

// loadSigningKey reads the key of flag (nil, nil without a file) and logs
// its fingerprint: the line to copy into the agents' trust policy.
func loadSigningKey(flag, file string, log *slog.Logger) (ssh.Signer, error) {
	if file == "" {
		return nil, nil
	}
	s, err := gittree.LoadSigningKey(file)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	log.Info("signing commits", "flag", "--"+flag, "file", file, "key", s.PublicKey().Type(), "fingerprint", ssh.FingerprintSHA256(s.PublicKey()))
	return s, nil
}
