package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
)

// privateKeyMarkers are what a plaintext private key looks like in a file:
// PEM blocks (PKCS#1, PKCS#8, EC, OpenSSH, encrypted PKCS#8 too: its
// passphrase would have to be somewhere) and age identities.
var privateKeyMarkers = [][]byte{
	[]byte("PRIVATE KEY-----"),
	[]byte("AGE-SECRET-KEY-1"),
}

// maxScan bounds how much of one file is searched for a plaintext key.
const maxScan = 4 << 20

// checkPlaintextKeys reports every plaintext private key in fsys, anywhere
// (not only the files the loader decodes), as file:line. Private keys never
// go into the fleet repository: TLS keys are committed encrypted to the
// hosts' age recipients under secrets/ (package secrets) and decrypted by
// the agent on its host. Directories named .git are skipped.
func checkPlaintextKeys(fsys fs.FS) Errors {
	var errs Errors
	var buf bytes.Buffer
	walkErr := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			errs = append(errs, Error{File: p, Msg: fmt.Sprintf("reading while looking for plaintext private keys: %v", err)})
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		// One buffer for every file: a 10k-node fleet is read once more,
		// without one allocation per file.
		buf.Reset()
		f, err := fsys.Open(p)
		if err == nil {
			_, err = buf.ReadFrom(io.LimitReader(f, maxScan))
			f.Close()
		}
		if err != nil {
			errs = append(errs, Error{File: p, Msg: fmt.Sprintf("reading while looking for plaintext private keys: %v", err)})
			return nil
		}
		errs = append(errs, plaintextKeys(p, buf.Bytes())...)
		return nil
	})
	if walkErr != nil && !errors.Is(walkErr, fs.ErrNotExist) {
		errs = append(errs, Error{File: ".", Msg: fmt.Sprintf("looking for plaintext private keys: %v", walkErr)})
	}
	return errs
}

// plaintextKeys reports each line of data that starts a plaintext private key.
func plaintextKeys(file string, data []byte) Errors {
	var errs Errors
	for _, m := range privateKeyMarkers {
		if !bytes.Contains(data, m) {
			continue
		}
		line := 1
		for rest := data; len(rest) > 0; line++ {
			l := rest
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				l, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			i := bytes.Index(l, m)
			if i < 0 {
				continue
			}
			what := "an age identity (AGE-SECRET-KEY-1...)"
			if m[0] == 'P' {
				if !bytes.Contains(l, []byte("-----BEGIN ")) {
					continue // the END line of a block already reported
				}
				what = strings.TrimSpace(string(l[bytes.Index(l, []byte("-----BEGIN ")):]))
			}
			errs = append(errs, Error{File: file, Line: line, Col: 1, Msg: fmt.Sprintf(
				"plaintext private key in the repository (%s): private keys never go into git; "+
					"encrypt the file to the hosts' age recipients (ddc-gitops secrets encrypt --recipients-file secrets/recipients.txt FILE > secrets/NAME.age), "+
					"delete the plaintext, and replace the key: it stays in the git history", what)})
		}
	}
	return errs
}
