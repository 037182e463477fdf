package cli

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/spf13/pflag"

	"github.com/ddc-gitops/ddc-gitops/reconciler/source"
)

// gitAuthFlags are the repository credentials of the API and the bot, the
// same as the agent's (--git-token-file, --ssh-key, --known-hosts), turned
// into an auth method by the same builder (source.Auth.ForURL).
type gitAuthFlags struct {
	tokenFile, sshKey, knownHosts string
}

// registerSSH adds --ssh-key and --known-hosts (prefixed); the token flag
// is registered by each command, as before.
func (g *gitAuthFlags) registerSSH(fl *pflag.FlagSet, prefix string) {
	fl.StringVar(&g.sshKey, prefix+"ssh-key", "", "SSH private key for ssh:// and git@host:path repositories")
	fl.StringVar(&g.knownHosts, prefix+"known-hosts", "", "known_hosts file for ssh:// repositories (required with --"+prefix+"ssh-key)")
}

// method builds the auth method for url; token is the HTTPS token already
// read (from the token file or the environment), tokenUser its basic-auth
// user ("" for the default).
func (g *gitAuthFlags) method(url, token, tokenUser string) (transport.AuthMethod, error) {
	m, err := source.Auth{Token: token, TokenUser: tokenUser, SSHKeyFile: g.sshKey, KnownHostsFile: g.knownHosts}.ForURL(url)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", url, err)
	}
	return m, nil
}
