package trust

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// SSHNamespace is the sshsig namespace git signs commits in.
const SSHNamespace = "git"

const (
	sshArmor = "-----BEGIN SSH SIGNATURE-----"
	pgpArmor = "-----BEGIN PGP SIGNATURE-----"
)

// sigError is why a commit's signature is not accepted; fp is the signing
// key's fingerprint when the signature names one.
type sigError struct {
	fp  string
	msg string
}

func (e *sigError) Error() string { return e.msg }

// signer checks c's signature and returns the policy key that made it and
// its fingerprint. The signed payload is the commit without its gpgsig
// header (go-git's EncodeWithoutSignature, byte-exact with git's).
func (p *Policy) signer(c *object.Commit) (*Key, string, error) {
	sig := c.PGPSignature
	if strings.TrimSpace(sig) == "" {
		return nil, "", &sigError{msg: "unsigned"}
	}
	if n := strings.Count("\n"+sig, "\n-----BEGIN "); n != 1 {
		return nil, "", &sigError{msg: fmt.Sprintf("%d signature blocks: want one", n)}
	}
	var payload plumbing.MemoryObject
	if err := c.EncodeWithoutSignature(&payload); err != nil {
		return nil, "", fmt.Errorf("encoding commit %s for verification: %w", c.Hash, err)
	}
	rd, err := payload.Reader()
	if err != nil {
		return nil, "", err
	}
	msg, err := io.ReadAll(rd)
	if err != nil {
		return nil, "", err
	}
	switch {
	case strings.HasPrefix(sig, sshArmor):
		return p.sshSigner(msg, sig)
	case strings.HasPrefix(sig, pgpArmor):
		return p.pgpSigner(msg, sig)
	}
	first, _, _ := strings.Cut(sig, "\n")
	return nil, "", &sigError{msg: fmt.Sprintf("unsupported signature format %q (want SSH or OpenPGP)", first)}
}

func (p *Policy) sshSigner(msg []byte, armored string) (*Key, string, error) {
	sig, err := sshsig.Unarmor([]byte(armored))
	if err != nil {
		return nil, "", &sigError{msg: "unreadable SSH signature: " + err.Error()}
	}
	fp := ssh.FingerprintSHA256(sig.PublicKey)
	if sig.Namespace != SSHNamespace {
		return nil, fp, &sigError{fp: fp, msg: fmt.Sprintf("SSH signature in namespace %q, not %q", sig.Namespace, SSHNamespace)}
	}
	k := p.bySSH[fp]
	if k == nil {
		return nil, fp, &sigError{fp: fp, msg: "signed by a key the policy does not know"}
	}
	if err := sig.HashAlgorithm.Available(); err != nil {
		return nil, fp, &sigError{fp: fp, msg: "SSH signature hash: " + err.Error()}
	}
	if err := sshsig.Verify(bytes.NewReader(msg), sig, k.sshKey, sig.HashAlgorithm, SSHNamespace); err != nil {
		return nil, fp, &sigError{fp: fp, msg: "bad SSH signature (the commit was changed after signing, or forged): " + err.Error()}
	}
	return k, fp, nil
}

func (p *Policy) pgpSigner(msg []byte, armored string) (*Key, string, error) {
	fp := pgpIssuer(armored)
	if len(p.ring) == 0 {
		return nil, fp, &sigError{fp: fp, msg: "signed by a key the policy does not know (it has no OpenPGP keys)"}
	}
	ent, err := openpgp.CheckArmoredDetachedSignature(p.ring, bytes.NewReader(msg), strings.NewReader(armored), nil)
	if errors.Is(err, pgperrors.ErrUnknownIssuer) {
		return nil, fp, &sigError{fp: fp, msg: "signed by a key the policy does not know"}
	}
	if err != nil {
		return nil, fp, &sigError{fp: fp, msg: "bad OpenPGP signature: " + err.Error()}
	}
	efp := strings.ToUpper(hex.EncodeToString(ent.PrimaryKey.Fingerprint))
	k := p.byPGP[efp]
	if k == nil { // cannot happen: the ring holds only the policy's keys
		return nil, efp, &sigError{fp: efp, msg: "signed by a key the policy does not know"}
	}
	return k, efp, nil
}

// pgpIssuer returns the issuer fingerprint (or key ID) an armored OpenPGP
// signature names, "" if it names none.
func pgpIssuer(armored string) string {
	blk, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return ""
	}
	pr := packet.NewReader(blk.Body)
	for {
		pk, err := pr.Next()
		if err != nil {
			return ""
		}
		if s, ok := pk.(*packet.Signature); ok {
			switch {
			case len(s.IssuerFingerprint) > 0:
				return strings.ToUpper(hex.EncodeToString(s.IssuerFingerprint))
			case s.IssuerKeyId != nil:
				return fmt.Sprintf("%016X", *s.IssuerKeyId)
			}
			return ""
		}
	}
}
