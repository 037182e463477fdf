// Package examples embeds the example fleet, so `ddc-gitops lab` works
// outside a checkout of the repository.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed fleet
var files embed.FS

// Fleet returns the example fleet (examples/fleet) as an fs.FS rooted at
// the fleet directory.
func Fleet() fs.FS {
	sub, err := fs.Sub(files, "fleet")
	if err != nil {
		panic(err) // "fleet" is a valid path embedded above
	}
	return sub
}
