package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/secrets"
)

func newSecretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Keep TLS keys out of git: age identities for hosts, files encrypted to them",
		Long: `Private keys never go into the fleet repository ('validate' refuses one). A
certificate and its key are committed encrypted with age to the hosts that
serve them, as secrets/NAME.age; the agent on such a host (--age-identity)
decrypts it into its --crt-base as NAME, mode 0600, and frontends name it
in tls.certificate as usual. secrets/recipients.txt lists the hosts'
public keys (age1...), one a line.`,
	}
	cmd.AddCommand(newSecretsKeygenCmd(), newSecretsEncryptCmd(), newSecretsDecryptCmd())
	return cmd
}

func newSecretsKeygenCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE",
		Short: "Create a host's age identity (mode 0600) and print its recipient (public key)",
		Long: `keygen writes a new age identity to --out (refusing to overwrite one) and
prints its recipient, the line to add to secrets/recipients.txt. An existing
identity's recipient is printed with --out FILE --show.`,
		Args: cmdkit.ArgsRange(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			show, _ := cmd.Flags().GetBool("show")
			if out == "" {
				return cmdkit.UsageError{Err: errors.New("--out FILE is required")}
			}
			if show {
				ids, err := secrets.ReadIdentities(out)
				if err != nil {
					return err
				}
				for _, id := range ids {
					if x, ok := id.(*age.X25519Identity); ok {
						fmt.Fprintln(cmd.OutOrStdout(), x.Recipient())
					}
				}
				return nil
			}
			id, err := age.GenerateX25519Identity()
			if err != nil {
				return fmt.Errorf("generating an identity: %w", err)
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("creating the identity file: %w", err)
			}
			_, err = fmt.Fprintf(f, "# ddc-gitops host identity; recipient: %s\n%s\n", id.Recipient(), id)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), id.Recipient())
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "identity file to create (e.g. /etc/ddc-gitops/age.key)")
	cmd.Flags().Bool("show", false, "print the recipient of the existing identity in --out")
	return cmd
}

func newSecretsEncryptCmd() *cobra.Command {
	var recipients []string
	var recipientsFile string
	cmd := &cobra.Command{
		Use:   "encrypt [--recipient age1...]... [--recipients-file FILE] FILE",
		Short: "Encrypt FILE (e.g. a PEM certificate + key) to hosts' recipients, armored, on stdout",
		Args:  cmdkit.ArgsRange(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rs []age.Recipient
			for _, r := range recipients {
				x, err := age.ParseX25519Recipient(r)
				if err != nil {
					return cmdkit.UsageError{Err: fmt.Errorf("--recipient %q: %w", r, err)}
				}
				rs = append(rs, x)
			}
			if recipientsFile != "" {
				data, err := os.ReadFile(recipientsFile)
				if err != nil {
					return fmt.Errorf("reading the recipients: %w", err)
				}
				more, err := secrets.ParseRecipients(bytes.NewReader(data))
				if err != nil {
					return fmt.Errorf("%s: %w", recipientsFile, err)
				}
				rs = append(rs, more...)
			}
			if len(rs) == 0 {
				return cmdkit.UsageError{Err: errors.New("give --recipient or --recipients-file")}
			}
			var plain []byte
			var err error
			if args[0] == "-" {
				plain, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), secrets.MaxSize+1))
			} else {
				plain, err = os.ReadFile(args[0])
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", args[0], err)
			}
			if len(plain) > secrets.MaxSize {
				return fmt.Errorf("%s: larger than %d bytes", args[0], secrets.MaxSize)
			}
			out, err := secrets.Encrypt(plain, rs)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringSliceVar(&recipients, "recipient", nil, "a host's age recipient (repeatable)")
	cmd.Flags().StringVar(&recipientsFile, "recipients-file", "", "file of recipients, one a line (e.g. secrets/recipients.txt)")
	return cmd
}

func newSecretsDecryptCmd() *cobra.Command {
	var identity, crtBase string
	cmd := &cobra.Command{
		Use:   "decrypt --identity FILE --crt-base DIR FLEET-DIR",
		Short: "Decrypt a fleet's secrets/NAME.age encrypted to this identity into DIR/NAME (mode 0600), as the agent does",
		Args:  cmdkit.ArgsRange(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if identity == "" || crtBase == "" {
				return cmdkit.UsageError{Err: errors.New("--identity and --crt-base are required")}
			}
			ids, err := secrets.ReadIdentities(identity)
			if err != nil {
				return err
			}
			in := &secrets.Installer{Identities: ids, CrtBase: crtBase}
			written, err := in.Install(os.DirFS(args[0]))
			if err != nil {
				return err
			}
			for _, w := range written {
				fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(crtBase, w))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&identity, "identity", "", "age identity file (e.g. /etc/ddc-gitops/age.key)")
	cmd.Flags().StringVar(&crtBase, "crt-base", "", "directory the files are decrypted into")
	return cmd
}
