package source

import (
	"fmt"
	"net"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Auth holds the credentials for the remote. Which fields apply depends on
// the URL's scheme; file:// URLs and plain paths need none.
type Auth struct {
	// Token is an HTTPS access token. By default it is sent as the password
	// of HTTP basic auth with user TokenUser (what GitHub, GitLab and Gitea
	// accept); with Bearer set it is sent as "Authorization: Bearer <Token>".
	Token     string
	TokenUser string // default "git"
	Bearer    bool

	// Username and Password are HTTP basic auth credentials, used when Token
	// is empty.
	Username, Password string

	// SSHKeyFile is a private key file for ssh:// and scp-like
	// (git@host:path) URLs, SSHKeyPassphrase its passphrase if encrypted.
	SSHKeyFile       string
	SSHKeyPassphrase string
	// SSHUser overrides the user of the URL; default "git".
	SSHUser string
	// KnownHostsFile lists the server's host keys (OpenSSH known_hosts
	// format). It is required for SSH: hosts are never trusted blindly.
	KnownHostsFile string
}

// method returns the go-git auth method for ep.
func (a Auth) method(ep *transport.Endpoint) (transport.AuthMethod, error) {
	switch ep.Protocol {
	case "http", "https":
		switch {
		case a.Token != "" && a.Bearer:
			return &githttp.TokenAuth{Token: a.Token}, nil
		case a.Token != "":
			user := a.TokenUser
			if user == "" {
				user = "git"
			}
			return &githttp.BasicAuth{Username: user, Password: a.Token}, nil
		case a.Password != "" || a.Username != "":
			return &githttp.BasicAuth{Username: a.Username, Password: a.Password}, nil
		}
		return nil, nil
	case "ssh":
		if a.SSHKeyFile == "" {
			return nil, fmt.Errorf("%w: an ssh URL needs an SSH key file", ErrConfig)
		}
		if a.KnownHostsFile == "" {
			return nil, fmt.Errorf("%w: an ssh URL needs a known_hosts file (host keys are never accepted blindly)", ErrConfig)
		}
		user := a.SSHUser
		if user == "" {
			user = ep.User
		}
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("%w: reading SSH key %s: %w", ErrConfig, a.SSHKeyFile, err)
		}
		db, err := gitssh.NewKnownHostsDb(a.KnownHostsFile)
		if err != nil {
			return nil, fmt.Errorf("%w: reading known_hosts %s: %w", ErrConfig, a.KnownHostsFile, err)
		}
		port := ep.Port
		if port == 0 {
			port = 22
		}
		keys.HostKeyCallback = db.HostKeyCallback()
		keys.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
		return keys, nil
	case "file":
		return nil, nil
	}
	return nil, fmt.Errorf("%w: unsupported URL scheme %q", ErrConfig, ep.Protocol)
}

// ForURL returns the go-git auth method for the remote at rawURL (any
// form go-git accepts: https://, ssh://, scp-like git@host:path, file://
// or a path). It is the one place that turns credentials into an auth
// method: the agent's Source, the API's and the bot's repositories all use
// it, so they accept the same URLs and credentials (SSH always with a
// known_hosts file).
func (a Auth) ForURL(rawURL string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing URL: %w", ErrConfig, err)
	}
	return a.method(ep)
}
