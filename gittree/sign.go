package gittree

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// SSHSignatureNamespace is the sshsig namespace git signs commits in
// (gpg.format=ssh); package trust verifies in the same one.
const SSHSignatureNamespace = "git"

// SignCommit signs c with signer the way git does with gpg.format=ssh: an
// armored SSH signature (namespace "git", SHA-512) of the commit without
// its signature, stored in c.PGPSignature (git's gpgsig header). It
// replaces any signature c had.
func SignCommit(c *object.Commit, signer ssh.Signer) error {
	c.PGPSignature = ""
	var payload plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&payload); err != nil {
		return fmt.Errorf("encoding the commit to sign: %w", err)
	}
	rd, err := payload.Reader()
	if err != nil {
		return fmt.Errorf("encoding the commit to sign: %w", err)
	}
	sig, err := sshsig.Sign(rd, signer, sshsig.HashSHA512, SSHSignatureNamespace)
	if err != nil {
		return fmt.Errorf("signing the commit with %s key %s: %w", signer.PublicKey().Type(), ssh.FingerprintSHA256(signer.PublicKey()), err)
	}
	c.PGPSignature = string(sshsig.Armor(sig))
	return nil
}

// WriteCommit stores c in s, signed with signer first when signer is not
// nil (see SignCommit; nil writes c as it is, unsigned unless it carries a
// signature already), and returns its hash. It is the one place the API,
// the bot and the lab's git server write commits.
func WriteCommit(s storer.EncodedObjectStorer, c *object.Commit, signer ssh.Signer) (plumbing.Hash, error) {
	if signer != nil {
		if err := SignCommit(c, signer); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	o := s.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding commit: %w", err)
	}
	h, err := s.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("storing commit: %w", err)
	}
	c.Hash = h
	return h, nil
}

// LoadSigningKey reads an unencrypted OpenSSH (or PEM) private key file
// (ed25519, ECDSA or RSA) to sign commits with. Like ssh, it refuses a
// file that group or others may access, and it refuses a
// passphrase-protected key (a daemon has nobody to ask for it). Errors
// name the file.
func LoadSigningKey(file string) (ssh.Signer, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("signing key %s: not a regular file", file)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("signing key %s: permissions %#o are too open: a private key must be accessible by its owner only (chmod 600 %s)", file, perm, file)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("signing key %s: the key is protected by a passphrase: give an unencrypted key (ssh-keygen -p -N '' -f %s on a copy), kept readable by this service's user only: %w", file, file, err)
	case err != nil:
		return nil, fmt.Errorf("signing key %s: not an SSH private key: %w", file, err)
	}
	return signer, nil
}

// NewSigningKey makes an ed25519 key pair: the private key as an OpenSSH
// PEM file's content (what ssh-keygen writes, unencrypted), the public key
// as an authorized_keys line ending in comment, and its signer.
func NewSigningKey(comment string) (priv []byte, pub string, signer ssh.Signer, err error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", nil, fmt.Errorf("generating an ed25519 key: %w", err)
	}
	blk, err := ssh.MarshalPrivateKey(crypto.PrivateKey(key), comment)
	if err != nil {
		return nil, "", nil, fmt.Errorf("encoding the ed25519 key: %w", err)
	}
	if signer, err = ssh.NewSignerFromKey(key); err != nil {
		return nil, "", nil, fmt.Errorf("the ed25519 key: %w", err)
	}
	line := ssh.MarshalAuthorizedKey(signer.PublicKey())
	pub = string(line[:len(line)-1]) // without the newline
	if comment != "" {
		pub += " " + comment
	}
	return pem.EncodeToMemory(blk), pub, signer, nil
}
