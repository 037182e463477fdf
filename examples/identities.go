package examples

import (
	"embed"
	"errors"
	"io/fs"
)

// The lab hosts' age identities. They decrypt only the example fleet's
// self-signed test certificate (secrets/ddc-example.pem.age), which protects
// nothing; they live outside the fleet, as a real host's identity lives only
// on that host.
//
//go:embed lab-identities
var identities embed.FS

// LabIdentity returns the example age identity of a lab host, and false
// when the lab has none for it.
func LabIdentity(host string) ([]byte, bool) {
	b, err := fs.ReadFile(identities, "lab-identities/"+host+".key")
	if errors.Is(err, fs.ErrNotExist) || err != nil {
		return nil, false
	}
	return b, true
}
