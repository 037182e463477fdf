package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ddc-gitops/ddc-gitops/bot"
	"github.com/ddc-gitops/ddc-gitops/internal/cmdkit"
	"github.com/ddc-gitops/ddc-gitops/lab"
	"github.com/ddc-gitops/ddc-gitops/lab/devchain"
)

// labNodeFlags are the flags shared by `lab node` subcommands.
type labNodeFlags struct {
	stateDir string
	timeout  time.Duration
}

func (f *labNodeFlags) info() (devchain.Info, error) {
	return devchain.ReadInfo(filepath.Join(f.stateDir, filepath.FromSlash(devchain.InfoFile)))
}

// ctx bounds one command: the transactions and their receipts.
func (f *labNodeFlags) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, f.timeout)
}

func newLabNodeCmd() *cobra.Command {
	var f labNodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Send the lab's dev chain the NodeRegistry transactions of a DDC provider and cluster manager",
		Long: `node drives the NodeRegistry on the lab's dev chain (geth --dev) as a DDC
provider and cluster manager would; the lab's bot watches it exactly as in
production and proposes each admission and removal as a branch of the fleet
repository (bot/node/<pubKey>, bot/node/<pubKey>-remove) once the block has
the bot's confirmations. Merging the branch admits or removes the node.

The lab runs one spare node simulator per zone that the fleet does not list:
'register --zone eu' creates that spare on chain (provider), 'admit --zone eu'
adds it to its cluster and validates it (cluster manager), 'remove --zone eu'
takes it out of its cluster (manager) and deletes it (provider). A pubKey
argument names any node instead of a zone's spare. It reads
STATE-DIR/` + devchain.InfoFile + `, written by a running 'ddc-gitops lab'.`,
		Args: cmdkit.ArgsRange(0, 0),
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.stateDir, "state-dir", lab.DefaultStateDir, "the lab's state directory")
	pf.DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for the transactions to be mined")

	var regZone string
	register := &cobra.Command{
		Use:   "register (--zone ZONE | PUBKEY)",
		Short: "Create a spare node on chain (provider: createNode, declaring its cluster); not admitted yet",
		Args:  cmdkit.ArgsRange(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			info, err := f.info()
			if err != nil {
				return err
			}
			key, err := pickNode(regZone, args)
			if err != nil {
				return err
			}
			sp, ok := findSpare(info, regZone, key)
			if !ok {
				return fmt.Errorf("%s is not one of the lab's spare nodes (%s): register needs a spare's record; see `ddc-gitops lab node list`", describeTarget(regZone, key), spareList(info))
			}
			ctx, cancel := f.ctx(c.Context())
			defer cancel()
			txs, err := devchain.Register(ctx, info, sp)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "registered spare %s of zone %s: pubKey %s, cluster %s, %s:%d (provider)\n",
				sp.Name, sp.Zone, sp.PubKey, sp.ClusterID, sp.Host, sp.HTTPPort)
			printTxs(out, txs)
			fmt.Fprintf(out, "next: `ddc-gitops lab node admit --zone %s` (the cluster manager adds it to its cluster and validates it); the bot proposes nothing before that\n", sp.Zone)
			return nil
		},
	}
	register.Flags().StringVar(&regZone, "zone", "", "the zone whose spare node to register")

	var admZone string
	admit := &cobra.Command{
		Use:   "admit (--zone ZONE | PUBKEY)",
		Short: "Admit a registered node into its cluster (cluster manager: addNodeToCluster + validateNode)",
		Args:  cmdkit.ArgsRange(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			info, err := f.info()
			if err != nil {
				return err
			}
			key, err := resolveNode(info, admZone, args)
			if err != nil {
				return err
			}
			ctx, cancel := f.ctx(c.Context())
			defer cancel()
			txs, err := devchain.Admit(ctx, info, key)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "admitted node %s (cluster manager)\n", key)
			printTxs(out, txs)
			fmt.Fprintf(out, "next: the bot proposes branch %s (nodes/%s.yaml) %s; merge it to admit the node into the fleet\n",
				bot.UpsertBranch(key), nodeName(info, key), whenConfirmed(info, txs))
			return nil
		},
	}
	admit.Flags().StringVar(&admZone, "zone", "", "the zone whose spare node to admit")

	var rmZone string
	var keep bool
	remove := &cobra.Command{
		Use:   "remove (--zone ZONE | PUBKEY)",
		Short: "Take a node out of its cluster (cluster manager: removeNodeFromCluster) and delete it (provider: removeNode)",
		Args:  cmdkit.ArgsRange(0, 1),
		RunE: func(c *cobra.Command, args []string) error {
			info, err := f.info()
			if err != nil {
				return err
			}
			key, err := resolveNode(info, rmZone, args)
			if err != nil {
				return err
			}
			ctx, cancel := f.ctx(c.Context())
			defer cancel()
			txs, err := devchain.Remove(ctx, info, key, keep)
			out := c.OutOrStdout()
			if len(txs) > 0 {
				fmt.Fprintf(out, "removing node %s\n", key)
				printTxs(out, txs)
			}
			if err != nil {
				return err
			}
			if len(txs) > 0 && txs[0].Method == "removeNodeFromCluster" {
				fmt.Fprintf(out, "next: if the node was admitted, the bot proposes branch %s %s; merge it to take the node out of the fleet\n",
					bot.RemoveBranch(key), whenConfirmed(info, txs[:1]))
			} else {
				fmt.Fprintln(out, "the node was in no cluster, so it was not admitted: the bot proposes nothing")
			}
			return nil
		},
	}
	remove.Flags().StringVar(&rmZone, "zone", "", "the zone whose spare node to remove")
	remove.Flags().BoolVar(&keep, "keep-record", false, "only take the node out of its cluster; keep its record on chain")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the registry's nodes with their cluster flags, and the lab's spare nodes",
		Args:  cmdkit.ArgsRange(0, 0),
		RunE: func(c *cobra.Command, _ []string) error {
			info, err := f.info()
			if err != nil {
				return err
			}
			ctx, cancel := f.ctx(c.Context())
			defer cancel()
			nodes, err := devchain.List(ctx, info)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"contract": info.Contract, "nodes": nodes, "spares": info.Spares})
			}
			fmt.Fprintf(out, "NodeRegistry %s on %s (chain %d)\n", info.Contract, info.HTTPURL, info.ChainID)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tZONE\tPUBKEY\tHOST\tIN-CLUSTER\tVALIDATED\tADMITTED")
			onChain := map[string]bool{}
			for _, n := range nodes {
				onChain[n.Record.PubKey] = true
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%d\t%s\t%s\t%s\n", nodeName(info, n.Record.PubKey), zoneOf(info, n.Record.ClusterID),
					n.Record.PubKey, n.Record.Host, n.Record.HTTPPort, yesNo(n.InCluster), yesNo(n.Validated), yesNo(n.Admitted()))
			}
			for _, sp := range info.Spares {
				if !onChain[sp.PubKey] {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%d\t-\t-\tnot registered (spare)\n", sp.Name, sp.Zone, sp.PubKey, sp.Host, sp.HTTPPort)
				}
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	cmd.AddCommand(register, admit, remove, list)
	return cmd
}

// pickNode checks that exactly one of --zone and PUBKEY is given and
// normalises the pubKey (0x + lowercase hex).
func pickNode(zone string, args []string) (string, error) {
	switch {
	case zone != "" && len(args) > 0:
		return "", cmdkit.UsageError{Err: fmt.Errorf("give --zone or a pubKey, not both")}
	case zone == "" && len(args) == 0:
		return "", cmdkit.UsageError{Err: fmt.Errorf("give --zone ZONE (the zone's spare node) or a pubKey")}
	case zone != "":
		return "", nil
	}
	key := strings.ToLower(strings.TrimSpace(args[0]))
	if !strings.HasPrefix(key, "0x") {
		key = "0x" + key
	}
	if len(key) != 66 || strings.Trim(key[2:], "0123456789abcdef") != "" {
		return "", cmdkit.UsageError{Err: fmt.Errorf("pubKey %q: want 64 hex digits (0x optional)", args[0])}
	}
	return key, nil
}

// findSpare is the spare of zone, or with pubKey.
func findSpare(info devchain.Info, zone, pubKey string) (devchain.Spare, bool) {
	if zone != "" {
		return info.SpareByZone(zone)
	}
	return info.SpareByPubKey(pubKey)
}

// resolveNode is the pubKey of --zone's spare or of the argument.
func resolveNode(info devchain.Info, zone string, args []string) (string, error) {
	key, err := pickNode(zone, args)
	if err != nil || zone == "" {
		return key, err
	}
	sp, ok := info.SpareByZone(zone)
	if !ok {
		return "", fmt.Errorf("the lab has no spare node in zone %q (%s)", zone, spareList(info))
	}
	return sp.PubKey, nil
}

func describeTarget(zone, key string) string {
	if zone != "" {
		return "zone " + zone
	}
	return key
}

// spareList names the spares for error messages.
func spareList(info devchain.Info) string {
	if len(info.Spares) == 0 {
		return "the lab has no spares"
	}
	var s []string
	for _, sp := range info.Spares {
		s = append(s, sp.Zone+": "+sp.Name)
	}
	return "spares: " + strings.Join(s, ", ")
}

// nodeName is the spare's name, or the name the bot gives a new node.
func nodeName(info devchain.Info, pubKey string) string {
	if sp, ok := info.SpareByPubKey(pubKey); ok {
		return sp.Name
	}
	return devchain.NodeName(pubKey)
}

// zoneOf is the zone of a cluster, "?" when the lab does not map it.
func zoneOf(info devchain.Info, cluster string) string {
	if z, ok := info.Clusters[cluster]; ok {
		return z
	}
	return "?"
}

// whenConfirmed says when the last of txs reaches the bot's depth.
func whenConfirmed(info devchain.Info, txs []devchain.Tx) string {
	if len(txs) == 0 {
		return "once the change is confirmed"
	}
	block := txs[len(txs)-1].Block
	s := fmt.Sprintf("once block %d has %d confirmations", block, info.Confirmations)
	if info.BlockPeriodSeconds > 0 {
		s += fmt.Sprintf(" (about %ds)", info.Confirmations*info.BlockPeriodSeconds)
	}
	return s
}

func printTxs(w io.Writer, txs []devchain.Tx) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range txs {
		fmt.Fprintf(tw, "  %s\ttx %s\tblock %d\tfrom %s\n", t.Method, t.Hash, t.Block, t.From)
	}
	_ = tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
