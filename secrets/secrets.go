// Package secrets keeps private keys out of the fleet repository: TLS
// certificates and their keys are committed encrypted with age
// (filippo.io/age, X25519) to the public keys (recipients) of the hosts
// that serve them, under secrets/ as NAME.age, and only the agent on such a
// host decrypts them, with its own identity, into its crt-base directory
// as NAME with mode 0600. A file encrypted for other hosts only is left
// alone. desired.Load refuses a plaintext private key anywhere in the
// repository.
package secrets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// Well-known names in the fleet repository.
const (
	// Dir holds the encrypted files, NAME.age each.
	Dir = "secrets"
	// Ext ends an encrypted file's name.
	Ext = ".age"
	// RecipientsFile lists the recipients (age1...) of the fleet's hosts,
	// one a line, `#` comments naming the host.
	RecipientsFile = "secrets/recipients.txt"
)

// MaxSize bounds an encrypted file (a certificate chain and key is a few KiB).
const MaxSize = 1 << 20

// reName is what a decrypted file may be called: it lands in crt-base and
// is named by tls.certificate, so the certificate-file grammar's segment.
var reName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// ReadIdentities reads an age identity file (AGE-SECRET-KEY-1... lines).
func ReadIdentities(file string) ([]age.Identity, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading the age identity: %w", err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("parsing the age identity %s: %w", file, err)
	}
	return ids, nil
}

// ParseRecipients parses recipients (age1... lines, `#` comments).
func ParseRecipients(r io.Reader) ([]age.Recipient, error) {
	rs, err := age.ParseRecipients(r)
	if err != nil {
		return nil, fmt.Errorf("parsing age recipients: %w", err)
	}
	return rs, nil
}

// Encrypt encrypts plain to every recipient, ASCII-armored (diffable in git).
func Encrypt(plain []byte, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("encrypting: no recipients")
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("encrypting: %w", err)
	}
	return buf.Bytes(), nil
}

// ErrNotForUs is returned by Decrypt when none of the identities is a
// recipient of the file.
var ErrNotForUs = errors.New("not encrypted to this host's identity")

// Decrypt decrypts an armored or binary age file.
func Decrypt(data []byte, ids []age.Identity) ([]byte, error) {
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(bytes.TrimSpace(data)))
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ErrNotForUs
		}
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxSize {
		return nil, fmt.Errorf("decrypted content larger than %d bytes", MaxSize)
	}
	return out, nil
}

// Installer decrypts the repository's secrets into a host directory.
type Installer struct {
	Identities []age.Identity
	// CrtBase is the absolute directory the files are decrypted into.
	CrtBase string
}

// BadFileError is a file under secrets/ that no host could use (a bad
// name, not age, too large): retrying the same revision does not help.
type BadFileError struct {
	File string
	Err  error
}

func (e *BadFileError) Error() string { return fmt.Sprintf("%s: %v", e.File, e.Err) }
func (e *BadFileError) Unwrap() error { return e.Err }

// Install decrypts every secrets/NAME.age of fsys that is encrypted to one
// of the identities into CrtBase/NAME (mode 0600, written atomically, only
// when the content changed) and returns the names it wrote. Files for
// other hosts only are skipped. Nothing is removed from CrtBase.
func (in *Installer) Install(fsys fs.FS) (written []string, err error) {
	entries, err := fs.ReadDir(fsys, Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/: %w", Dir, err)
	}
	if err := os.MkdirAll(in.CrtBase, 0o700); err != nil {
		return nil, fmt.Errorf("creating crt-base %s: %w", in.CrtBase, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Ext) {
			continue
		}
		file := path.Join(Dir, e.Name())
		name := strings.TrimSuffix(e.Name(), Ext)
		if !reName.MatchString(name) {
			return written, &BadFileError{file, fmt.Errorf("want NAME%s with NAME of letters, digits, '_', '.' and '-' (it becomes a file in crt-base)", Ext)}
		}
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return written, fmt.Errorf("reading %s: %w", file, err)
		}
		if len(data) > 2*MaxSize {
			return written, &BadFileError{file, fmt.Errorf("larger than %d bytes", 2*MaxSize)}
		}
		plain, err := Decrypt(data, in.Identities)
		if errors.Is(err, ErrNotForUs) {
			continue
		}
		if err != nil {
			return written, &BadFileError{file, fmt.Errorf("decrypting: %w", err)}
		}
		dst := filepath.Join(in.CrtBase, name)
		changed, err := atomicfile.Write(dst, plain, 0o600)
		if err != nil {
			return written, fmt.Errorf("writing %s: %w", dst, err)
		}
		if err := os.Chmod(dst, 0o600); err != nil {
			return written, fmt.Errorf("setting the mode of %s: %w", dst, err)
		}
		if !changed {
			continue
		}
		written = append(written, name)
	}
	return written, nil
}

// Recipients reads the recipients listed in fsys's RecipientsFile.
func Recipients(fsys fs.FS) ([]age.Recipient, error) {
	data, err := fs.ReadFile(fsys, RecipientsFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", RecipientsFile, err)
	}
	return ParseRecipients(bufio.NewReader(bytes.NewReader(data)))
}
