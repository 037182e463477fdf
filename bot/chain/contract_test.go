package chain

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/ddc-gitops/ddc-gitops/bot/contract"
)

// revertOf runs data as an eth_call from `from` and returns the decoded
// custom error (nil when the call succeeds).
func revertOf(t *testing.T, e *simEnv, from common.Address, data []byte) any {
	t.Helper()
	_, err := e.client.CallContract(context.Background(), ethereum.CallMsg{From: from, To: &e.addr, Data: data}, nil)
	if err == nil {
		return nil
	}
	var de rpc.DataError
	if !errors.As(err, &de) {
		t.Fatalf("call failed without revert data: %v", err)
	}
	s, _ := de.ErrorData().(string)
	raw := common.FromHex(s)
	if len(raw) < 4 {
		t.Fatalf("revert data %q", s)
	}
	v, uerr := e.reg.UnpackError(raw)
	if uerr != nil {
		t.Fatalf("unknown revert %q: %v", s, uerr)
	}
	return v
}

// The registry's access control and checks, as custom errors.
func TestContractAccessControl(t *testing.T) {
	e := newSimEnv(t)
	rec := e.nodeRecord(1)
	e.do(t, e.provider, e.reg.PackCreateNode(rec))
	other := e.nodeRecord(2)
	other.ClusterId = [20]byte{0xcc}
	e.do(t, e.provider, e.reg.PackCreateNode(other))
	stranger := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	badMode := e.nodeRecord(3)
	badMode.Mode = 5
	params := paramsOf(rec)
	params.Mode = 0

	cases := []struct {
		name string
		from common.Address
		data []byte
		want string // type name of the custom error; "" for success
	}{
		{"stranger sets a cluster manager", stranger, e.reg.PackSetClusterManager(e.clusterID, stranger), "*contract.NodeRegistryNotOwner"},
		{"duplicate node", e.provider.From, e.reg.PackCreateNode(rec), "*contract.NodeRegistryNodeExists"},
		{"zero key", e.provider.From, e.reg.PackCreateNode(contract.NodeRegistryNodeRecord{Mode: 1}), "*contract.NodeRegistryZeroKey"},
		{"mode 5", e.provider.From, e.reg.PackCreateNode(badMode), "*contract.NodeRegistryInvalidMode"},
		{"stranger adds to cluster", stranger, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey), "*contract.NodeRegistryNotClusterManager"},
		{"provider adds to cluster", e.provider.From, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey), "*contract.NodeRegistryNotClusterManager"},
		{"manager adds to cluster", e.manager.From, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey), ""},
		{"add to another cluster than declared", e.manager.From, e.reg.PackAddNodeToCluster(e.clusterID, other.PubKey), "*contract.NodeRegistryClusterMismatch"},
		{"stranger validates", stranger, e.reg.PackValidateNode(rec.PubKey), "*contract.NodeRegistryNotClusterManager"},
		{"manager validates", e.manager.From, e.reg.PackValidateNode(rec.PubKey), ""},
		{"manager changes params", e.manager.From, e.reg.PackSetNodeParams(rec.PubKey, paramsOf(rec)), "*contract.NodeRegistryNotProvider"},
		{"params with mode 0", e.provider.From, e.reg.PackSetNodeParams(rec.PubKey, params), "*contract.NodeRegistryInvalidMode"},
		{"stranger removes from cluster", stranger, e.reg.PackRemoveNodeFromCluster(rec.PubKey), "*contract.NodeRegistryNotManagerOrProvider"},
		{"remove a node not in a cluster", e.manager.From, e.reg.PackRemoveNodeFromCluster(other.PubKey), "*contract.NodeRegistryNotInCluster"},
		{"manager deletes", e.manager.From, e.reg.PackRemoveNode(rec.PubKey), "*contract.NodeRegistryNotProvider"},
		{"unknown node", e.provider.From, e.reg.PackRemoveNode([32]byte{1}), "*contract.NodeRegistryNodeNotFound"},
		{"provider deletes", e.provider.From, e.reg.PackRemoveNode(rec.PubKey), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Apply the successful steps so later cases see their effect.
			got := revertOf(t, e, tc.from, tc.data)
			if gotName := typeName(got); gotName != tc.want {
				t.Fatalf("got %s (%+v), want %q", gotName, got, tc.want)
			}
			if tc.want == "" {
				from := map[common.Address]*bind.TransactOpts{e.manager.From: e.manager, e.provider.From: e.provider}[tc.from]
				e.do(t, from, tc.data)
			}
		})
	}
	// A deleted key can be created again; its provider may take it out of the cluster.
	e.do(t, e.provider, e.reg.PackCreateNode(rec))
	e.do(t, e.manager, e.reg.PackAddNodeToCluster(e.clusterID, rec.PubKey))
	if got := revertOf(t, e, e.provider.From, e.reg.PackRemoveNodeFromCluster(rec.PubKey)); got != nil {
		t.Fatalf("provider removing its node from the cluster: %+v", got)
	}
}

func typeName(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%T", v)
}
