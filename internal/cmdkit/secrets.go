package cmdkit

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/agentapi"
)

// ReadSharedSecret reads a shared secret from file (the value of flag) or,
// when no file is given, from the environment variable env (if any). A
// secret that is given must be at least agentapi.MinSecretBytes long: an empty or
// short one is refused with a message on how to make one, never accepted
// quietly. It returns "" when neither is set.
func ReadSharedSecret(flag, file, env string) (string, error) {
	from := "--" + flag + " " + file
	var s string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--%s: reading %s: %w", flag, file, err)
		}
		s = strings.TrimSpace(string(b))
		if s == "" {
			return "", weakSecret(from, file, 0)
		}
	} else if env != "" {
		s = os.Getenv(env)
		from = "$" + env
		if s == "" {
			return "", nil
		}
	} else {
		return "", nil
	}
	if len(s) < agentapi.MinSecretBytes {
		return "", weakSecret(from, file, len(s))
	}
	return s, nil
}

func weakSecret(from, file string, n int) error {
	dst := file
	if dst == "" {
		dst = "FILE"
	}
	what := fmt.Sprintf("is %d bytes long", n)
	if n == 0 {
		what = "is empty"
	}
	return UsageError{fmt.Errorf("%s: the secret %s; use at least %d random bytes, for example: umask 077; openssl rand -hex 32 > %s",
		from, what, agentapi.MinSecretBytes, dst)}
}

// WarnExposure warns about an HTTP listener on every interface without TLS
// (passwords, tokens and secrets would cross the network in clear).
func WarnExposure(log *slog.Logger, what, listen string, tls bool) {
	if tls || !allInterfaces(listen) {
		return
	}
	log.Warn(what+" listens on every interface without TLS: credentials cross the network in clear; "+
		"serve TLS (or put a TLS proxy in front and listen on 127.0.0.1)", "listen", listen)
}

// allInterfaces reports whether a listen address binds every interface.
func allInterfaces(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	return host == "" || host == "0.0.0.0" || host == "::" || host == "[::]"
}
