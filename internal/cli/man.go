package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
)

// newManCmd writes one man page per command, made from the same text as
// --help, so `man ddc-gitops-agent` and `ddc-gitops agent --help` never
// disagree. The Debian package runs it at build time.
func newManCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "Write the man pages (section 1) of every command into DIR",
		Hidden: true,
		Args:   cmdkit.ArgsRange(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", args[0], err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			hdr := &doc.GenManHeader{Title: "DDC-GITOPS", Section: "1", Source: "ddc-gitops " + Version, Manual: "ddc-gitops manual"}
			if err := doc.GenManTree(root, hdr, args[0]); err != nil {
				return fmt.Errorf("writing man pages into %s: %w", args[0], err)
			}
			return nil
		},
	}
}
