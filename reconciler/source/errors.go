package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Kind says what the agent should do about a failed Sync.
type Kind int

const (
	// Transient failures (network, server 5xx, timeouts) go away by
	// themselves: retry with backoff, keep serving the last snapshot.
	Transient Kind = iota + 1
	// Permanent failures (authentication, missing branch or repository, bad
	// configuration) need an operator: report them, retry rarely.
	Permanent
)

func (k Kind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Sentinels wrapped by permanent errors, for errors.Is.
var (
	// ErrAuth: the server refused the credentials (or they are missing).
	ErrAuth = errors.New("git authentication failed")
	// ErrHostKey: the SSH server's host key is unknown or changed.
	ErrHostKey = errors.New("ssh host key verification failed")
	// ErrBranchNotFound: the branch does not exist on the remote (or the
	// remote repository is empty).
	ErrBranchNotFound = errors.New("branch not found")
	// ErrRepoNotFound: the remote repository does not exist.
	ErrRepoNotFound = errors.New("repository not found")
	// ErrConfig: the Source is misconfigured.
	ErrConfig = errors.New("invalid git source configuration")
)

// Error is the error Sync returns: what failed, and whether retrying helps.
type Error struct {
	Kind Kind
	// Op is what was being done: "clone", "fetch", "read".
	Op  string
	URL string
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("git %s of %s (%s): %v", e.Op, e.URL, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err is a Sync error worth retrying soon.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == Transient
}

// IsPermanent reports whether err is a Sync error that retrying will not fix.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == Permanent
}

// class is how classify sorts a go-git error. unknown means the error says
// nothing about the network or the remote: it may come from the local clone.
type class int

const (
	unknown class = iota
	transient
	permanent
)

// classify sorts err and returns it with the matching sentinel wrapped in.
func classify(err error) (class, error) {
	var (
		httpErr  *githttp.Err
		keyErr   *knownhosts.KeyError
		netErr   net.Error
		urlErr   *url.Error
		opErr    *net.OpError
		refErr   git.NoMatchingRefSpecError
		sysErrno syscall.Errno
	)
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return transient, err
	case errors.Is(err, ErrConfig):
		return permanent, err
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return permanent, fmt.Errorf("%w: %w", ErrAuth, err)
	case errors.As(err, &keyErr), strings.Contains(err.Error(), "knownhosts: key"):
		return permanent, fmt.Errorf("%w: %w", ErrHostKey, err)
	case strings.Contains(err.Error(), "ssh: unable to authenticate"):
		return permanent, fmt.Errorf("%w: %w", ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return permanent, fmt.Errorf("%w: %w", ErrRepoNotFound, err)
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.As(err, &refErr), errors.Is(err, ErrBranchNotFound):
		return permanent, fmt.Errorf("%w: %w", ErrBranchNotFound, err)
	case errors.As(err, &httpErr):
		switch code := httpErr.StatusCode(); {
		case code >= 500, code == 429, code == 408:
			return transient, err
		default:
			return permanent, err
		}
	case errors.As(err, &opErr), errors.As(err, &urlErr), errors.As(err, &netErr):
		return transient, err
	case errors.As(err, &sysErrno) && isNetErrno(sysErrno):
		return transient, err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, os.ErrDeadlineExceeded):
		return transient, err
	}
	return unknown, err
}

func isNetErrno(e syscall.Errno) bool {
	switch e {
	case syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
		syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN:
		return true
	}
	return false
}
