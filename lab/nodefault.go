package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/ddc-gitops/ddc-gitops/lab/nodesim"
)

// nodesDir, under the state directory, holds each node simulator's control
// socket (mode 0700: only the lab's user reaches them).
const nodesDir = "nodes"

// reMachine is a lab machine's name (a fleet node name).
var reMachine = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// nodeControlSocket is the control socket of node's simulator.
func nodeControlSocket(stateDir, node string) string {
	return filepath.Join(stateDir, nodesDir, node+".sock")
}

// SetNodeFault makes the simulator of node (a machine of the lab such as
// "eu-node-1") fail as f says (unhealthy, slow, erroring; see
// nodesim.Fault), or healthy again with the zero Fault, until the next
// call. It returns the fault the node reports now.
func (c *Control) SetNodeFault(ctx context.Context, node string, f nodesim.Fault) (nodesim.Fault, error) {
	if err := c.isNode(node); err != nil {
		return nodesim.Fault{}, err
	}
	return SetNodeFault(ctx, c.l.o.StateDir, node, f)
}

// NodeFault is the fault node's simulator reports.
func (c *Control) NodeFault(ctx context.Context, node string) (nodesim.Fault, error) {
	if err := c.isNode(node); err != nil {
		return nodesim.Fault{}, err
	}
	return NodeFault(ctx, c.l.o.StateDir, node)
}

func (c *Control) isNode(node string) error {
	ch, _, err := c.find(node)
	if err != nil {
		return err
	}
	if len(ch.args) < 2 || ch.args[0] != "lab" || ch.args[1] != "nodesim" {
		return fmt.Errorf("lab: %s is not a node simulator", node)
	}
	return nil
}

// SetNodeFault is Control.SetNodeFault for the lab whose state directory is
// stateDir, run by another process (`ddc-gitops lab node-fault`).
func SetNodeFault(ctx context.Context, stateDir, node string, f nodesim.Fault) (nodesim.Fault, error) {
	sock, err := nodeSocket(stateDir, node)
	if err != nil {
		return nodesim.Fault{}, err
	}
	got, err := nodesim.SetFault(ctx, sock, f)
	if err != nil {
		return nodesim.Fault{}, fmt.Errorf("lab: setting the fault of node %s: %w", node, err)
	}
	return got, nil
}

// NodeFault is Control.NodeFault for the lab whose state directory is
// stateDir.
func NodeFault(ctx context.Context, stateDir, node string) (nodesim.Fault, error) {
	sock, err := nodeSocket(stateDir, node)
	if err != nil {
		return nodesim.Fault{}, err
	}
	got, err := nodesim.GetFault(ctx, sock)
	if err != nil {
		return nodesim.Fault{}, fmt.Errorf("lab: reading the fault of node %s: %w", node, err)
	}
	return got, nil
}

func nodeSocket(stateDir, node string) (string, error) {
	if !reMachine.MatchString(node) {
		return "", fmt.Errorf("lab: %q is not a node name", node)
	}
	sock := nodeControlSocket(cmpOr(stateDir, DefaultStateDir), node)
	if _, err := os.Stat(sock); errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("lab: node %s has no control socket (%s): is a lab running from state directory %s, and is %s one of its simulated nodes?",
			node, sock, cmpOr(stateDir, DefaultStateDir), node)
	}
	return sock, nil
}
