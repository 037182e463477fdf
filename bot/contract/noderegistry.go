// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package contract

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// NodeRegistryNodeParams is an auto generated low-level Go binding around an user-defined struct.
type NodeRegistryNodeParams struct {
	Host     string
	Domain   string
	Ssl      bool
	HttpPort uint16
	GrpcPort uint16
	P2pPort  uint16
	Mode     uint8
}

// NodeRegistryNodeRecord is an auto generated low-level Go binding around an user-defined struct.
type NodeRegistryNodeRecord struct {
	PubKey     [32]byte
	ProviderId [32]byte
	ClusterId  [20]byte
	Host       string
	Domain     string
	Ssl        bool
	HttpPort   uint16
	GrpcPort   uint16
	P2pPort    uint16
	Mode       uint8
}

// NodeRegistryNodeView is an auto generated low-level Go binding around an user-defined struct.
type NodeRegistryNodeView struct {
	Record    NodeRegistryNodeRecord
	Provider  common.Address
	InCluster bool
	Validated bool
}

// NodeRegistryMetaData contains all meta data concerning the NodeRegistry contract.
var NodeRegistryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"AlreadyInCluster\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"requested\",\"type\":\"bytes20\"},{\"internalType\":\"bytes20\",\"name\":\"declared\",\"type\":\"bytes20\"}],\"name\":\"ClusterMismatch\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"name\":\"InvalidMode\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"NoCluster\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"NodeExists\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"NodeNotFound\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"}],\"name\":\"NotClusterManager\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"NotInCluster\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"NotManagerOrProvider\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"NotOwner\",\"type\":\"error\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"NotProvider\",\"type\":\"error\"},{\"inputs\":[],\"name\":\"ZeroKey\",\"type\":\"error\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"manager\",\"type\":\"address\"}],\"name\":\"ClusterManagerSet\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"indexed\":false,\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"node\",\"type\":\"tuple\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"name\":\"ClusterNodeAdded\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"indexed\":false,\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"node\",\"type\":\"tuple\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"name\":\"ClusterNodeRemoved\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"indexed\":true,\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"indexed\":false,\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"node\",\"type\":\"tuple\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"name\":\"ClusterNodeValidated\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"indexed\":false,\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"node\",\"type\":\"tuple\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"name\":\"NodeCreated\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"indexed\":false,\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"node\",\"type\":\"tuple\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"name\":\"NodeParamsChanged\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"indexed\":false,\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"node\",\"type\":\"tuple\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"indexed\":false,\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"name\":\"NodeRemoved\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"address\",\"name\":\"previousOwner\",\"type\":\"address\"},{\"indexed\":true,\"internalType\":\"address\",\"name\":\"newOwner\",\"type\":\"address\"}],\"name\":\"OwnershipTransferred\",\"type\":\"event\"},{\"inputs\":[{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"addNodeToCluster\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes20\",\"name\":\"\",\"type\":\"bytes20\"}],\"name\":\"clusterManager\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"rec\",\"type\":\"tuple\"}],\"name\":\"createNode\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"getNode\",\"outputs\":[{\"components\":[{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"record\",\"type\":\"tuple\"},{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"internalType\":\"structNodeRegistry.NodeView\",\"name\":\"\",\"type\":\"tuple\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"offset\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"limit\",\"type\":\"uint256\"}],\"name\":\"listNodes\",\"outputs\":[{\"components\":[{\"components\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"internalType\":\"bytes32\",\"name\":\"providerId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"internalType\":\"structNodeRegistry.NodeRecord\",\"name\":\"record\",\"type\":\"tuple\"},{\"internalType\":\"address\",\"name\":\"provider\",\"type\":\"address\"},{\"internalType\":\"bool\",\"name\":\"inCluster\",\"type\":\"bool\"},{\"internalType\":\"bool\",\"name\":\"validated\",\"type\":\"bool\"}],\"internalType\":\"structNodeRegistry.NodeView[]\",\"name\":\"page\",\"type\":\"tuple[]\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"nodeCount\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"owner\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"removeNode\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"removeNodeFromCluster\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes20\",\"name\":\"clusterId\",\"type\":\"bytes20\"},{\"internalType\":\"address\",\"name\":\"manager\",\"type\":\"address\"}],\"name\":\"setClusterManager\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"},{\"components\":[{\"internalType\":\"string\",\"name\":\"host\",\"type\":\"string\"},{\"internalType\":\"string\",\"name\":\"domain\",\"type\":\"string\"},{\"internalType\":\"bool\",\"name\":\"ssl\",\"type\":\"bool\"},{\"internalType\":\"uint16\",\"name\":\"httpPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"grpcPort\",\"type\":\"uint16\"},{\"internalType\":\"uint16\",\"name\":\"p2pPort\",\"type\":\"uint16\"},{\"internalType\":\"uint8\",\"name\":\"mode\",\"type\":\"uint8\"}],\"internalType\":\"structNodeRegistry.NodeParams\",\"name\":\"p\",\"type\":\"tuple\"}],\"name\":\"setNodeParams\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"newOwner\",\"type\":\"address\"}],\"name\":\"transferOwnership\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"pubKey\",\"type\":\"bytes32\"}],\"name\":\"validateNode\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "NodeRegistry",
	Bin: "0x6080604052348015600e575f5ffd5b505f80546001600160a01b0319163390811782556040519091907f8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e0908290a3611cbf8061005a5f395ff3fe608060405234801561000f575f5ffd5b50600436106100cb575f3560e01c80637b51e4d51161008857806398192bda1161006357806398192bda146101c957806398e69378146101dc578063e0a6f054146101ef578063f2fde38b14610202575f5ffd5b80637b51e4d5146101845780638da5cb5b1461019757806396f55bf4146101a9575f5ffd5b806316c58824146100cf57806319cc38bc146100e457806342c2a7db146100f757806350c946fe1461010a57806356dc3073146101335780636da49b8314610173575b5f5ffd5b6100e26100dd3660046113d8565b610215565b005b6100e26100f23660046113d8565b610571565b6100e26101053660046113ef565b61066e565b61011d6101183660046113d8565b6107e1565b60405161012a919061157e565b60405180910390f35b61015b6101413660046115a5565b60016020525f90815260409020546001600160a01b031681565b6040516001600160a01b03909116815260200161012a565b60035460405190815260200161012a565b6100e26101923660046115c0565b6109f2565b5f5461015b906001600160a01b031681565b6101bc6101b73660046115ea565b610b99565b60405161012a919061160a565b6100e26101d73660046113d8565b610ecc565b6100e26101ea36600461166d565b610fc1565b6100e26101fd3660046116d2565b6111bd565b6100e2610210366004611705565b61124c565b5f61021f826112cf565b60068101549091506001600160a01b0316331461025757604051636489355760e11b8152600481018390526024015b60405180910390fd5b6040805161014081018252825481526001830154602082015260028301546001600160601b0319606091821b16928201929092526003830180545f938592908401916102a29061171e565b80601f01602080910402602001604051908101604052809291908181526020018280546102ce9061171e565b80156103195780601f106102f057610100808354040283529160200191610319565b820191905f5260205f20905b8154815290600101906020018083116102fc57829003601f168201915b505050505081526020016004820180546103329061171e565b80601f016020809104026020016040519081016040528092919081815260200182805461035e9061171e565b80156103a95780601f10610380576101008083540402835291602001916103a9565b820191905f5260205f20905b81548152906001019060200180831161038c57829003601f168201915b50505091835250506005919091015460ff808216151560208085019190915261ffff610100840481166040808701919091526301000000850482166060870152600160281b85049091166080860152600160381b90930490911660a0909301929092525f86815260049092529020546003549192509080821461048e575f600361043460018461176a565b815481106104445761044461177d565b905f5260205f200154905080600360018561045f919061176a565b8154811061046f5761046f61177d565b5f91825260208083209091019290925591825260049052604090208290555b600380548061049f5761049f611791565b5f828152602080822083015f1990810183905590920190925586825260048152604080832083905560029182905282208281556001810183905590810180546001600160a01b03191690559081816104fa6003830182611310565b610507600483015f611310565b50600501805467ffffffffffffffff191690555060060180546001600160b01b031916905560405185907f1e87df51f911acea52e40d6ff5fa29e601b575594d13eb819ffee6e355ffe706906105629086905f9081906117a5565b60405180910390a25050505050565b5f61057b826112cf565b600281015490915060601b6001600160601b031981166105b1576040516311ba572d60e01b81526004810184905260240161024e565b6001600160601b031981165f908152600160205260409020546001600160a01b031633146105fe5760405163493c57a360e01b81526001600160601b03198216600482015260240161024e565b60068201805460ff60a81b1916600160a81b17908190556040516001600160601b031983169185917fb044ee0b077fc7edacee62dbf9c2c406c0a02838adc10f0d83a65bd7f2804bb091610661918791600160a01b900460ff169060019061184c565b60405180910390a3505050565b803561068d57604051637dec24e360e11b815260040160405180910390fd5b80355f90815260046020526040902054156106be5760405163fd01315f60e01b81528135600482015260240161024e565b60016106d261014083016101208401611925565b60ff1610806106f5575060046106f061014083016101208401611925565b60ff16115b1561072b5761070c61014082016101208301611925565b6040516366001a8960e01b815260ff909116600482015260240161024e565b80355f90815260026020526040902081816107468282611af0565b50506006810180546001600160a01b031916331790556003805460018101825583357fc2575a0e9e593c00f959f8c92f12db2869c3395a3b0502d05e2516446f71f85b90910181905590545f828152600460205260408082209290925590517ff71d36bbe48f2b441bcd98fb9daec358f495af6d0aa31fc9326f43e810a59441916107d591859190819061184c565b60405180910390a25050565b6107e961134a565b6107f2826112cf565b604080516101c08101909152815460808201908152600183015460a0830152600283015460601b6001600160601b03191660c0830152600383018054929392849291849160e0850191906108459061171e565b80601f01602080910402602001604051908101604052809291908181526020018280546108719061171e565b80156108bc5780601f10610893576101008083540402835291602001916108bc565b820191905f5260205f20905b81548152906001019060200180831161089f57829003601f168201915b505050505081526020016004820180546108d59061171e565b80601f01602080910402602001604051908101604052809291908181526020018280546109019061171e565b801561094c5780601f106109235761010080835404028352916020019161094c565b820191905f5260205f20905b81548152906001019060200180831161092f57829003601f168201915b50505091835250506005919091015460ff808216151560208085019190915261ffff61010084048116604080870191909152630100000085048216606080880191909152600160281b86049092166080870152600160381b909404831660a090950194909452938552600695909501546001600160a01b03811693850193909352600160a01b83048516151590840152600160a81b909104909216151591015292915050565b5f6109fc826112cf565b90506001600160601b03198316610a29576040516311ba572d60e01b81526004810183905260240161024e565b6001600160601b031983165f908152600160205260409020546001600160a01b03163314610a765760405163493c57a360e01b81526001600160601b03198416600482015260240161024e565b6006810154600160a01b900460ff1615610aa6576040516354ca901d60e01b81526004810183905260240161024e565b600281015460601b6001600160601b0319811615801590610ad457506001600160601b031981811690851614155b15610b0d576040516325f2133d60e21b8152600481018490526001600160601b031980861660248301528216604482015260640161024e565b600282018054606086901c6001600160a01b031990911617905560068201805460ff60a01b1916600160a01b17908190556040516001600160601b031986169185917ff07d1d844925224047abbb371684fbc87783d0fe5dc2ddfcf0fece5bd73b1e7c91610b8b918791600191600160a81b90910460ff169061184c565b60405180910390a350505050565b600354606090808410610bdf57604080515f8082526020820190925290610bd6565b610bc361134a565b815260200190600190039081610bbb5790505b50915050610ec6565b5f83610beb868461176a565b10610bff57610bfa8486611c40565b610c01565b815b9050610c0d858261176a565b67ffffffffffffffff811115610c2557610c25611996565b604051908082528060200260200182016040528015610c5e57816020015b610c4b61134a565b815260200190600190039081610c435790505b509250845b81811015610ec25760025f60038381548110610c8157610c8161177d565b5f918252602080832091909101548352820192909252604090810190912081516101c08101909252805460808301908152600182015460a0840152600282015460601b6001600160601b03191660c0840152600382018054849291849160e085019190610ced9061171e565b80601f0160208091040260200160405190810160405280929190818152602001828054610d199061171e565b8015610d645780601f10610d3b57610100808354040283529160200191610d64565b820191905f5260205f20905b815481529060010190602001808311610d4757829003601f168201915b50505050508152602001600482018054610d7d9061171e565b80601f0160208091040260200160405190810160405280929190818152602001828054610da99061171e565b8015610df45780601f10610dcb57610100808354040283529160200191610df4565b820191905f5260205f20905b815481529060010190602001808311610dd757829003601f168201915b50505091835250506005919091015460ff808216151560208085019190915261ffff61010084048116604080870191909152630100000085048216606080880191909152600160281b86049092166080870152600160381b909404831660a090950194909452938552600695909501546001600160a01b03811693850193909352600160a01b83048516151590840152600160a81b909104909216151591015284610e9f888461176a565b81518110610eaf57610eaf61177d565b6020908102919091010152600101610c63565b5050505b92915050565b5f610ed6826112cf565b6006810154909150600160a01b900460ff16610f085760405163133e038160e21b81526004810183905260240161024e565b600281015460601b6001600160601b031981165f908152600160205260409020546001600160a01b03163314801590610f4e575060068201546001600160a01b03163314155b15610f6f57604051630fdb7c4160e31b81526004810184905260240161024e565b60068201805461ffff60a01b191690556040516001600160601b031982169084907fb0a0dcd8c7bdd2a756dc5ac65b6d2a53e38b83c3bbdb6735c5a6bab967448bbb906106619086905f90819061184c565b5f610fcb836112cf565b60068101549091506001600160a01b03163314610ffe57604051636489355760e11b81526004810184905260240161024e565b600161101060e0840160c08501611925565b60ff1610806110315750600461102c60e0840160c08501611925565b60ff16115b156110465761070c60e0830160c08401611925565b80611051838061194c565b60038301916110619190836119f6565b5061106f602084018461194c565b600483019161107f9190836119f6565b506110906060840160408501611c53565b60058201805460ff19169115159190911790556110b36080840160608501611c6e565b60058201805461ffff929092166101000262ffff00199092169190911790556110e260a0840160808501611c6e565b60058201805461ffff9290921663010000000264ffff0000001990921691909117905561111560c0840160a08501611c6e565b60058201805461ffff92909216600160281b0266ffff00000000001990921691909117905561114a60e0840160c08501611925565b60058201805460ff60381b1916600160381b60ff93841602179055600683015460405186927f76ee4b227fbcf203c0e7d101db9ea16ea6f1d68f278aeb79a8e57f167ef7679c926111af928792600160a01b8304811692600160a81b9004169061184c565b60405180910390a250505050565b5f546001600160a01b031633146111e7576040516330cd747160e01b815260040160405180910390fd5b6001600160601b031982165f8181526001602090815260409182902080546001600160a01b0319166001600160a01b03861690811790915591519182527f7ba46ebb2a4120029d60212c2b5a6fb94b71e3c0259127e5a7e5d57b9311b61691016107d5565b5f546001600160a01b03163314611276576040516330cd747160e01b815260040160405180910390fd5b5f80546040516001600160a01b03808516939216917f8be0079c531659141344cd1fd0a4f28419497f9722a3daafe3b4186f6b6457e091a35f80546001600160a01b0319166001600160a01b0392909216919091179055565b5f8181526004602052604081205481036112ff5760405163694b6fc160e01b81526004810183905260240161024e565b505f90815260026020526040902090565b50805461131c9061171e565b5f825580601f1061132b575050565b601f0160209004905f5260205f209081019061134791906113c0565b50565b604080516101c081019091525f6080820181815260a0830182905260c08301829052606060e0840181905261010084015261012083018290526101408301829052610160830182905261018083018290526101a0830191909152819081525f602082018190526040820181905260609091015290565b5b808211156113d4575f81556001016113c1565b5090565b5f602082840312156113e8575f5ffd5b5035919050565b5f602082840312156113ff575f5ffd5b813567ffffffffffffffff811115611415575f5ffd5b82016101408185031215611427575f5ffd5b9392505050565b5f81518084528060208401602086015e5f602082860101526020601f19601f83011685010191505092915050565b80518252602081015160208301525f604082015161148660408501826001600160601b0319169052565b50606082015161014060608501526114a261014085018261142e565b9050608083015184820360808601526114bb828261142e565b91505060a08301516114d160a086018215159052565b5060c08301516114e760c086018261ffff169052565b5060e08301516114fd60e086018261ffff169052565b5061010083015161151561010086018261ffff169052565b5061012083015161152c61012086018260ff169052565b509392505050565b5f815160808452611548608085018261145c565b6020848101516001600160a01b031690860152604080850151151590860152606093840151151593909401929092525090919050565b602081525f6114276020830184611534565b6001600160601b031981168114611347575f5ffd5b5f602082840312156115b5575f5ffd5b813561142781611590565b5f5f604083850312156115d1575f5ffd5b82356115dc81611590565b946020939093013593505050565b5f5f604083850312156115fb575f5ffd5b50508035926020909101359150565b5f602082016020835280845180835260408501915060408160051b8601019250602086015f5b8281101561166157603f1987860301845261164c858351611534565b94506020938401939190910190600101611630565b50929695505050505050565b5f5f6040838503121561167e575f5ffd5b82359150602083013567ffffffffffffffff81111561169b575f5ffd5b830160e081860312156116ac575f5ffd5b809150509250929050565b80356001600160a01b03811681146116cd575f5ffd5b919050565b5f5f604083850312156116e3575f5ffd5b82356116ee81611590565b91506116fc602084016116b7565b90509250929050565b5f60208284031215611715575f5ffd5b611427826116b7565b600181811c9082168061173257607f821691505b60208210810361175057634e487b7160e01b5f52602260045260245ffd5b50919050565b634e487b7160e01b5f52601160045260245ffd5b81810381811115610ec657610ec6611756565b634e487b7160e01b5f52603260045260245ffd5b634e487b7160e01b5f52603160045260245ffd5b606081525f6117b7606083018661145c565b931515602083015250901515604090910152919050565b5f81546117da8161171e565b8085526001821680156117f4576001811461181057610ec2565b60ff1983166020870152602082151560051b8701019350610ec2565b845f5260205f205f5b8381101561183b5781546020828a010152600182019150602081019050611819565b870160200194505050505092915050565b6060815283546060820152600184015460808201525f611870600286015460601b90565b6001600160601b03191660a083015261014060c08301526118986101a08301600387016117ce565b828103605f190160e08401526118b181600488016117ce565b905060058601546118ca610100850160ff831615159052565b600881901c61ffff908116610120860152601882901c8116610140860152602882901c1661016085015260381c60ff16610180840152931515602083015250901515604090910152919050565b60ff81168114611347575f5ffd5b5f60208284031215611935575f5ffd5b813561142781611917565b5f8135610ec681611590565b5f5f8335601e19843603018112611961575f5ffd5b83018035915067ffffffffffffffff82111561197b575f5ffd5b60200191503681900382131561198f575f5ffd5b9250929050565b634e487b7160e01b5f52604160045260245ffd5b601f8211156119f157805f5260205f20601f840160051c810160208510156119cf5750805b601f840160051c820191505b818110156119ee575f81556001016119db565b50505b505050565b67ffffffffffffffff831115611a0e57611a0e611996565b611a2283611a1c835461171e565b836119aa565b5f601f841160018114611a53575f8515611a3c5750838201355b5f19600387901b1c1916600186901b1783556119ee565b5f83815260208120601f198716915b82811015611a825786850135825560209485019460019092019101611a62565b5086821015611a9e575f1960f88860031b161c19848701351681555b505060018560011b0183555050505050565b8015158114611347575f5ffd5b5f8135610ec681611ab0565b61ffff81168114611347575f5ffd5b5f8135610ec681611ac9565b5f8135610ec681611917565b8135815560208201356001820155611b2f611b0d60408401611940565b600283018160601c6bffffffffffffffffffffffff60a01b8254161781555050565b611b3c606083018361194c565b611b4a8183600386016119f6565b5050611b59608083018361194c565b611b678183600486016119f6565b505060058101611b90611b7c60a08501611abd565b825490151560ff1660ff1991909116178255565b611bb7611b9f60c08501611ad8565b825462ffff00191660089190911b62ffff0016178255565b611be2611bc660e08501611ad8565b825464ffff000000191660189190911b64ffff00000016178255565b611c12611bf26101008501611ad8565b825466ffff0000000000191660289190911b66ffff000000000016178255565b6119f1611c226101208501611ae4565b825460ff60381b191660389190911b67ff0000000000000016178255565b80820180821115610ec657610ec6611756565b5f60208284031215611c63575f5ffd5b813561142781611ab0565b5f60208284031215611c7e575f5ffd5b813561142781611ac956fea2646970667358221220975980bd80e248d55c9d1b1530772b88a58ae133125b7faff4dd799196999ac064736f6c634300081c0033",
}

// NodeRegistry is an auto generated Go binding around an Ethereum contract.
type NodeRegistry struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *NodeRegistry) GetABI() abi.ABI {
	return c.abi
}

// NewNodeRegistry creates a new instance of NodeRegistry.
func NewNodeRegistry() *NodeRegistry {
	parsed, err := NodeRegistryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &NodeRegistry{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *NodeRegistry) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackAddNodeToCluster is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7b51e4d5.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function addNodeToCluster(bytes20 clusterId, bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) PackAddNodeToCluster(clusterId [20]byte, pubKey [32]byte) []byte {
	enc, err := nodeRegistry.abi.Pack("addNodeToCluster", clusterId, pubKey)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackAddNodeToCluster is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x7b51e4d5.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function addNodeToCluster(bytes20 clusterId, bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) TryPackAddNodeToCluster(clusterId [20]byte, pubKey [32]byte) ([]byte, error) {
	return nodeRegistry.abi.Pack("addNodeToCluster", clusterId, pubKey)
}

// PackClusterManager is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x56dc3073.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function clusterManager(bytes20 ) view returns(address)
func (nodeRegistry *NodeRegistry) PackClusterManager(arg0 [20]byte) []byte {
	enc, err := nodeRegistry.abi.Pack("clusterManager", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackClusterManager is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x56dc3073.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function clusterManager(bytes20 ) view returns(address)
func (nodeRegistry *NodeRegistry) TryPackClusterManager(arg0 [20]byte) ([]byte, error) {
	return nodeRegistry.abi.Pack("clusterManager", arg0)
}

// UnpackClusterManager is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x56dc3073.
//
// Solidity: function clusterManager(bytes20 ) view returns(address)
func (nodeRegistry *NodeRegistry) UnpackClusterManager(data []byte) (common.Address, error) {
	out, err := nodeRegistry.abi.Unpack("clusterManager", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackCreateNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x42c2a7db.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function createNode((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) rec) returns()
func (nodeRegistry *NodeRegistry) PackCreateNode(rec NodeRegistryNodeRecord) []byte {
	enc, err := nodeRegistry.abi.Pack("createNode", rec)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackCreateNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x42c2a7db.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function createNode((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) rec) returns()
func (nodeRegistry *NodeRegistry) TryPackCreateNode(rec NodeRegistryNodeRecord) ([]byte, error) {
	return nodeRegistry.abi.Pack("createNode", rec)
}

// PackGetNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x50c946fe.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getNode(bytes32 pubKey) view returns(((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8),address,bool,bool))
func (nodeRegistry *NodeRegistry) PackGetNode(pubKey [32]byte) []byte {
	enc, err := nodeRegistry.abi.Pack("getNode", pubKey)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGetNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x50c946fe.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function getNode(bytes32 pubKey) view returns(((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8),address,bool,bool))
func (nodeRegistry *NodeRegistry) TryPackGetNode(pubKey [32]byte) ([]byte, error) {
	return nodeRegistry.abi.Pack("getNode", pubKey)
}

// UnpackGetNode is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x50c946fe.
//
// Solidity: function getNode(bytes32 pubKey) view returns(((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8),address,bool,bool))
func (nodeRegistry *NodeRegistry) UnpackGetNode(data []byte) (NodeRegistryNodeView, error) {
	out, err := nodeRegistry.abi.Unpack("getNode", data)
	if err != nil {
		return *new(NodeRegistryNodeView), err
	}
	out0 := *abi.ConvertType(out[0], new(NodeRegistryNodeView)).(*NodeRegistryNodeView)
	return out0, nil
}

// PackListNodes is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x96f55bf4.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function listNodes(uint256 offset, uint256 limit) view returns(((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8),address,bool,bool)[] page)
func (nodeRegistry *NodeRegistry) PackListNodes(offset *big.Int, limit *big.Int) []byte {
	enc, err := nodeRegistry.abi.Pack("listNodes", offset, limit)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackListNodes is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x96f55bf4.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function listNodes(uint256 offset, uint256 limit) view returns(((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8),address,bool,bool)[] page)
func (nodeRegistry *NodeRegistry) TryPackListNodes(offset *big.Int, limit *big.Int) ([]byte, error) {
	return nodeRegistry.abi.Pack("listNodes", offset, limit)
}

// UnpackListNodes is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x96f55bf4.
//
// Solidity: function listNodes(uint256 offset, uint256 limit) view returns(((bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8),address,bool,bool)[] page)
func (nodeRegistry *NodeRegistry) UnpackListNodes(data []byte) ([]NodeRegistryNodeView, error) {
	out, err := nodeRegistry.abi.Unpack("listNodes", data)
	if err != nil {
		return *new([]NodeRegistryNodeView), err
	}
	out0 := *abi.ConvertType(out[0], new([]NodeRegistryNodeView)).(*[]NodeRegistryNodeView)
	return out0, nil
}

// PackNodeCount is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6da49b83.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function nodeCount() view returns(uint256)
func (nodeRegistry *NodeRegistry) PackNodeCount() []byte {
	enc, err := nodeRegistry.abi.Pack("nodeCount")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackNodeCount is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6da49b83.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function nodeCount() view returns(uint256)
func (nodeRegistry *NodeRegistry) TryPackNodeCount() ([]byte, error) {
	return nodeRegistry.abi.Pack("nodeCount")
}

// UnpackNodeCount is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x6da49b83.
//
// Solidity: function nodeCount() view returns(uint256)
func (nodeRegistry *NodeRegistry) UnpackNodeCount(data []byte) (*big.Int, error) {
	out, err := nodeRegistry.abi.Unpack("nodeCount", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function owner() view returns(address)
func (nodeRegistry *NodeRegistry) PackOwner() []byte {
	enc, err := nodeRegistry.abi.Pack("owner")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function owner() view returns(address)
func (nodeRegistry *NodeRegistry) TryPackOwner() ([]byte, error) {
	return nodeRegistry.abi.Pack("owner")
}

// UnpackOwner is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (nodeRegistry *NodeRegistry) UnpackOwner(data []byte) (common.Address, error) {
	out, err := nodeRegistry.abi.Unpack("owner", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackRemoveNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x16c58824.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function removeNode(bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) PackRemoveNode(pubKey [32]byte) []byte {
	enc, err := nodeRegistry.abi.Pack("removeNode", pubKey)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRemoveNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x16c58824.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function removeNode(bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) TryPackRemoveNode(pubKey [32]byte) ([]byte, error) {
	return nodeRegistry.abi.Pack("removeNode", pubKey)
}

// PackRemoveNodeFromCluster is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x98192bda.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function removeNodeFromCluster(bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) PackRemoveNodeFromCluster(pubKey [32]byte) []byte {
	enc, err := nodeRegistry.abi.Pack("removeNodeFromCluster", pubKey)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRemoveNodeFromCluster is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x98192bda.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function removeNodeFromCluster(bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) TryPackRemoveNodeFromCluster(pubKey [32]byte) ([]byte, error) {
	return nodeRegistry.abi.Pack("removeNodeFromCluster", pubKey)
}

// PackSetClusterManager is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe0a6f054.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setClusterManager(bytes20 clusterId, address manager) returns()
func (nodeRegistry *NodeRegistry) PackSetClusterManager(clusterId [20]byte, manager common.Address) []byte {
	enc, err := nodeRegistry.abi.Pack("setClusterManager", clusterId, manager)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetClusterManager is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe0a6f054.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setClusterManager(bytes20 clusterId, address manager) returns()
func (nodeRegistry *NodeRegistry) TryPackSetClusterManager(clusterId [20]byte, manager common.Address) ([]byte, error) {
	return nodeRegistry.abi.Pack("setClusterManager", clusterId, manager)
}

// PackSetNodeParams is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x98e69378.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setNodeParams(bytes32 pubKey, (string,string,bool,uint16,uint16,uint16,uint8) p) returns()
func (nodeRegistry *NodeRegistry) PackSetNodeParams(pubKey [32]byte, p NodeRegistryNodeParams) []byte {
	enc, err := nodeRegistry.abi.Pack("setNodeParams", pubKey, p)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetNodeParams is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x98e69378.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setNodeParams(bytes32 pubKey, (string,string,bool,uint16,uint16,uint16,uint8) p) returns()
func (nodeRegistry *NodeRegistry) TryPackSetNodeParams(pubKey [32]byte, p NodeRegistryNodeParams) ([]byte, error) {
	return nodeRegistry.abi.Pack("setNodeParams", pubKey, p)
}

// PackTransferOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf2fde38b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function transferOwnership(address newOwner) returns()
func (nodeRegistry *NodeRegistry) PackTransferOwnership(newOwner common.Address) []byte {
	enc, err := nodeRegistry.abi.Pack("transferOwnership", newOwner)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTransferOwnership is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf2fde38b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function transferOwnership(address newOwner) returns()
func (nodeRegistry *NodeRegistry) TryPackTransferOwnership(newOwner common.Address) ([]byte, error) {
	return nodeRegistry.abi.Pack("transferOwnership", newOwner)
}

// PackValidateNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x19cc38bc.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function validateNode(bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) PackValidateNode(pubKey [32]byte) []byte {
	enc, err := nodeRegistry.abi.Pack("validateNode", pubKey)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackValidateNode is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x19cc38bc.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function validateNode(bytes32 pubKey) returns()
func (nodeRegistry *NodeRegistry) TryPackValidateNode(pubKey [32]byte) ([]byte, error) {
	return nodeRegistry.abi.Pack("validateNode", pubKey)
}

// NodeRegistryClusterManagerSet represents a ClusterManagerSet event raised by the NodeRegistry contract.
type NodeRegistryClusterManagerSet struct {
	ClusterId [20]byte
	Manager   common.Address
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryClusterManagerSetEventName = "ClusterManagerSet"

// ContractEventName returns the user-defined event name.
func (NodeRegistryClusterManagerSet) ContractEventName() string {
	return NodeRegistryClusterManagerSetEventName
}

// UnpackClusterManagerSetEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ClusterManagerSet(bytes20 indexed clusterId, address manager)
func (nodeRegistry *NodeRegistry) UnpackClusterManagerSetEvent(log *types.Log) (*NodeRegistryClusterManagerSet, error) {
	event := "ClusterManagerSet"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryClusterManagerSet)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryClusterNodeAdded represents a ClusterNodeAdded event raised by the NodeRegistry contract.
type NodeRegistryClusterNodeAdded struct {
	PubKey    [32]byte
	ClusterId [20]byte
	Node      NodeRegistryNodeRecord
	InCluster bool
	Validated bool
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryClusterNodeAddedEventName = "ClusterNodeAdded"

// ContractEventName returns the user-defined event name.
func (NodeRegistryClusterNodeAdded) ContractEventName() string {
	return NodeRegistryClusterNodeAddedEventName
}

// UnpackClusterNodeAddedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ClusterNodeAdded(bytes32 indexed pubKey, bytes20 indexed clusterId, (bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) node, bool inCluster, bool validated)
func (nodeRegistry *NodeRegistry) UnpackClusterNodeAddedEvent(log *types.Log) (*NodeRegistryClusterNodeAdded, error) {
	event := "ClusterNodeAdded"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryClusterNodeAdded)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryClusterNodeRemoved represents a ClusterNodeRemoved event raised by the NodeRegistry contract.
type NodeRegistryClusterNodeRemoved struct {
	PubKey    [32]byte
	ClusterId [20]byte
	Node      NodeRegistryNodeRecord
	InCluster bool
	Validated bool
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryClusterNodeRemovedEventName = "ClusterNodeRemoved"

// ContractEventName returns the user-defined event name.
func (NodeRegistryClusterNodeRemoved) ContractEventName() string {
	return NodeRegistryClusterNodeRemovedEventName
}

// UnpackClusterNodeRemovedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ClusterNodeRemoved(bytes32 indexed pubKey, bytes20 indexed clusterId, (bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) node, bool inCluster, bool validated)
func (nodeRegistry *NodeRegistry) UnpackClusterNodeRemovedEvent(log *types.Log) (*NodeRegistryClusterNodeRemoved, error) {
	event := "ClusterNodeRemoved"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryClusterNodeRemoved)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryClusterNodeValidated represents a ClusterNodeValidated event raised by the NodeRegistry contract.
type NodeRegistryClusterNodeValidated struct {
	PubKey    [32]byte
	ClusterId [20]byte
	Node      NodeRegistryNodeRecord
	InCluster bool
	Validated bool
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryClusterNodeValidatedEventName = "ClusterNodeValidated"

// ContractEventName returns the user-defined event name.
func (NodeRegistryClusterNodeValidated) ContractEventName() string {
	return NodeRegistryClusterNodeValidatedEventName
}

// UnpackClusterNodeValidatedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ClusterNodeValidated(bytes32 indexed pubKey, bytes20 indexed clusterId, (bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) node, bool inCluster, bool validated)
func (nodeRegistry *NodeRegistry) UnpackClusterNodeValidatedEvent(log *types.Log) (*NodeRegistryClusterNodeValidated, error) {
	event := "ClusterNodeValidated"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryClusterNodeValidated)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryNodeCreated represents a NodeCreated event raised by the NodeRegistry contract.
type NodeRegistryNodeCreated struct {
	PubKey    [32]byte
	Node      NodeRegistryNodeRecord
	InCluster bool
	Validated bool
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryNodeCreatedEventName = "NodeCreated"

// ContractEventName returns the user-defined event name.
func (NodeRegistryNodeCreated) ContractEventName() string {
	return NodeRegistryNodeCreatedEventName
}

// UnpackNodeCreatedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event NodeCreated(bytes32 indexed pubKey, (bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) node, bool inCluster, bool validated)
func (nodeRegistry *NodeRegistry) UnpackNodeCreatedEvent(log *types.Log) (*NodeRegistryNodeCreated, error) {
	event := "NodeCreated"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryNodeCreated)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryNodeParamsChanged represents a NodeParamsChanged event raised by the NodeRegistry contract.
type NodeRegistryNodeParamsChanged struct {
	PubKey    [32]byte
	Node      NodeRegistryNodeRecord
	InCluster bool
	Validated bool
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryNodeParamsChangedEventName = "NodeParamsChanged"

// ContractEventName returns the user-defined event name.
func (NodeRegistryNodeParamsChanged) ContractEventName() string {
	return NodeRegistryNodeParamsChangedEventName
}

// UnpackNodeParamsChangedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event NodeParamsChanged(bytes32 indexed pubKey, (bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) node, bool inCluster, bool validated)
func (nodeRegistry *NodeRegistry) UnpackNodeParamsChangedEvent(log *types.Log) (*NodeRegistryNodeParamsChanged, error) {
	event := "NodeParamsChanged"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryNodeParamsChanged)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryNodeRemoved represents a NodeRemoved event raised by the NodeRegistry contract.
type NodeRegistryNodeRemoved struct {
	PubKey    [32]byte
	Node      NodeRegistryNodeRecord
	InCluster bool
	Validated bool
	Raw       *types.Log // Blockchain specific contextual infos
}

const NodeRegistryNodeRemovedEventName = "NodeRemoved"

// ContractEventName returns the user-defined event name.
func (NodeRegistryNodeRemoved) ContractEventName() string {
	return NodeRegistryNodeRemovedEventName
}

// UnpackNodeRemovedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event NodeRemoved(bytes32 indexed pubKey, (bytes32,bytes32,bytes20,string,string,bool,uint16,uint16,uint16,uint8) node, bool inCluster, bool validated)
func (nodeRegistry *NodeRegistry) UnpackNodeRemovedEvent(log *types.Log) (*NodeRegistryNodeRemoved, error) {
	event := "NodeRemoved"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryNodeRemoved)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// NodeRegistryOwnershipTransferred represents a OwnershipTransferred event raised by the NodeRegistry contract.
type NodeRegistryOwnershipTransferred struct {
	PreviousOwner common.Address
	NewOwner      common.Address
	Raw           *types.Log // Blockchain specific contextual infos
}

const NodeRegistryOwnershipTransferredEventName = "OwnershipTransferred"

// ContractEventName returns the user-defined event name.
func (NodeRegistryOwnershipTransferred) ContractEventName() string {
	return NodeRegistryOwnershipTransferredEventName
}

// UnpackOwnershipTransferredEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event OwnershipTransferred(address indexed previousOwner, address indexed newOwner)
func (nodeRegistry *NodeRegistry) UnpackOwnershipTransferredEvent(log *types.Log) (*NodeRegistryOwnershipTransferred, error) {
	event := "OwnershipTransferred"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != nodeRegistry.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(NodeRegistryOwnershipTransferred)
	if len(log.Data) > 0 {
		if err := nodeRegistry.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range nodeRegistry.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

// UnpackError attempts to decode the provided error data using user-defined
// error definitions.
func (nodeRegistry *NodeRegistry) UnpackError(raw []byte) (any, error) {
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["AlreadyInCluster"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackAlreadyInClusterError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["ClusterMismatch"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackClusterMismatchError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["InvalidMode"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackInvalidModeError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NoCluster"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNoClusterError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NodeExists"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNodeExistsError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NodeNotFound"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNodeNotFoundError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NotClusterManager"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNotClusterManagerError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NotInCluster"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNotInClusterError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NotManagerOrProvider"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNotManagerOrProviderError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NotOwner"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNotOwnerError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["NotProvider"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackNotProviderError(raw[4:])
	}
	if bytes.Equal(raw[:4], nodeRegistry.abi.Errors["ZeroKey"].ID.Bytes()[:4]) {
		return nodeRegistry.UnpackZeroKeyError(raw[4:])
	}
	return nil, errors.New("Unknown error")
}

// NodeRegistryAlreadyInCluster represents a AlreadyInCluster error raised by the NodeRegistry contract.
type NodeRegistryAlreadyInCluster struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error AlreadyInCluster(bytes32 pubKey)
func NodeRegistryAlreadyInClusterErrorID() common.Hash {
	return common.HexToHash("0x54ca901dc844fb19641256669975d06a57d654e9dec919b3f705e7786fbcc95a")
}

// UnpackAlreadyInClusterError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error AlreadyInCluster(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackAlreadyInClusterError(raw []byte) (*NodeRegistryAlreadyInCluster, error) {
	out := new(NodeRegistryAlreadyInCluster)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "AlreadyInCluster", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryClusterMismatch represents a ClusterMismatch error raised by the NodeRegistry contract.
type NodeRegistryClusterMismatch struct {
	PubKey    [32]byte
	Requested [20]byte
	Declared  [20]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ClusterMismatch(bytes32 pubKey, bytes20 requested, bytes20 declared)
func NodeRegistryClusterMismatchErrorID() common.Hash {
	return common.HexToHash("0x97c84cf4ed7ccc997f8af3ddf47da35d5b47a0dd3183a47fe92de9c1e6ee1982")
}

// UnpackClusterMismatchError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ClusterMismatch(bytes32 pubKey, bytes20 requested, bytes20 declared)
func (nodeRegistry *NodeRegistry) UnpackClusterMismatchError(raw []byte) (*NodeRegistryClusterMismatch, error) {
	out := new(NodeRegistryClusterMismatch)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "ClusterMismatch", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryInvalidMode represents a InvalidMode error raised by the NodeRegistry contract.
type NodeRegistryInvalidMode struct {
	Mode uint8
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error InvalidMode(uint8 mode)
func NodeRegistryInvalidModeErrorID() common.Hash {
	return common.HexToHash("0x66001a892dd7257513d5173772f5cd46484ba41219d7544f197aacf3beb31f48")
}

// UnpackInvalidModeError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error InvalidMode(uint8 mode)
func (nodeRegistry *NodeRegistry) UnpackInvalidModeError(raw []byte) (*NodeRegistryInvalidMode, error) {
	out := new(NodeRegistryInvalidMode)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "InvalidMode", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNoCluster represents a NoCluster error raised by the NodeRegistry contract.
type NodeRegistryNoCluster struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NoCluster(bytes32 pubKey)
func NodeRegistryNoClusterErrorID() common.Hash {
	return common.HexToHash("0x11ba572d2dd6b32db4e4e947919832c9e937a4dc89a2ffef6e839393b3c5530b")
}

// UnpackNoClusterError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NoCluster(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackNoClusterError(raw []byte) (*NodeRegistryNoCluster, error) {
	out := new(NodeRegistryNoCluster)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NoCluster", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNodeExists represents a NodeExists error raised by the NodeRegistry contract.
type NodeRegistryNodeExists struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NodeExists(bytes32 pubKey)
func NodeRegistryNodeExistsErrorID() common.Hash {
	return common.HexToHash("0xfd01315fa1f93da0c2dbf8f6683c371abb2022423fe6794d1c9a1f2007159566")
}

// UnpackNodeExistsError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NodeExists(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackNodeExistsError(raw []byte) (*NodeRegistryNodeExists, error) {
	out := new(NodeRegistryNodeExists)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NodeExists", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNodeNotFound represents a NodeNotFound error raised by the NodeRegistry contract.
type NodeRegistryNodeNotFound struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NodeNotFound(bytes32 pubKey)
func NodeRegistryNodeNotFoundErrorID() common.Hash {
	return common.HexToHash("0x694b6fc12233a1f9c914254d0a2280381bcc68e9b47525cba53500bb9ef51ad1")
}

// UnpackNodeNotFoundError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NodeNotFound(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackNodeNotFoundError(raw []byte) (*NodeRegistryNodeNotFound, error) {
	out := new(NodeRegistryNodeNotFound)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NodeNotFound", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNotClusterManager represents a NotClusterManager error raised by the NodeRegistry contract.
type NodeRegistryNotClusterManager struct {
	ClusterId [20]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotClusterManager(bytes20 clusterId)
func NodeRegistryNotClusterManagerErrorID() common.Hash {
	return common.HexToHash("0x493c57a3c3244bcb0397cd5c7cb239d1a3f1b389945a9a9b2f0aca422719fb17")
}

// UnpackNotClusterManagerError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotClusterManager(bytes20 clusterId)
func (nodeRegistry *NodeRegistry) UnpackNotClusterManagerError(raw []byte) (*NodeRegistryNotClusterManager, error) {
	out := new(NodeRegistryNotClusterManager)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NotClusterManager", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNotInCluster represents a NotInCluster error raised by the NodeRegistry contract.
type NodeRegistryNotInCluster struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotInCluster(bytes32 pubKey)
func NodeRegistryNotInClusterErrorID() common.Hash {
	return common.HexToHash("0x4cf80e0428f4693cf027844921a36e7d6416c6ed32b800e9e58b5821356e941f")
}

// UnpackNotInClusterError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotInCluster(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackNotInClusterError(raw []byte) (*NodeRegistryNotInCluster, error) {
	out := new(NodeRegistryNotInCluster)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NotInCluster", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNotManagerOrProvider represents a NotManagerOrProvider error raised by the NodeRegistry contract.
type NodeRegistryNotManagerOrProvider struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotManagerOrProvider(bytes32 pubKey)
func NodeRegistryNotManagerOrProviderErrorID() common.Hash {
	return common.HexToHash("0x7edbe208a5467114a7bd499ca47f25bd226764e5e772093445e667d8a7ea9fee")
}

// UnpackNotManagerOrProviderError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotManagerOrProvider(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackNotManagerOrProviderError(raw []byte) (*NodeRegistryNotManagerOrProvider, error) {
	out := new(NodeRegistryNotManagerOrProvider)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NotManagerOrProvider", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNotOwner represents a NotOwner error raised by the NodeRegistry contract.
type NodeRegistryNotOwner struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotOwner()
func NodeRegistryNotOwnerErrorID() common.Hash {
	return common.HexToHash("0x30cd74712f59d478562d48e2d35de830db72c60a63dd08ae59199eec990b5bc4")
}

// UnpackNotOwnerError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotOwner()
func (nodeRegistry *NodeRegistry) UnpackNotOwnerError(raw []byte) (*NodeRegistryNotOwner, error) {
	out := new(NodeRegistryNotOwner)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NotOwner", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryNotProvider represents a NotProvider error raised by the NodeRegistry contract.
type NodeRegistryNotProvider struct {
	PubKey [32]byte
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error NotProvider(bytes32 pubKey)
func NodeRegistryNotProviderErrorID() common.Hash {
	return common.HexToHash("0xc9126aaeb6fef2c112a69f94d2d6ec19ca7322b382d8fe1020ab7b51043c0d29")
}

// UnpackNotProviderError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error NotProvider(bytes32 pubKey)
func (nodeRegistry *NodeRegistry) UnpackNotProviderError(raw []byte) (*NodeRegistryNotProvider, error) {
	out := new(NodeRegistryNotProvider)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "NotProvider", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// NodeRegistryZeroKey represents a ZeroKey error raised by the NodeRegistry contract.
type NodeRegistryZeroKey struct {
}

// ErrorID returns the hash of canonical representation of the error's signature.
//
// Solidity: error ZeroKey()
func NodeRegistryZeroKeyErrorID() common.Hash {
	return common.HexToHash("0xfbd849c64583c50579479efaac1ef44e6d9d78379a9ea28aa6150a3b683c09f5")
}

// UnpackZeroKeyError is the Go binding used to decode the provided
// error data into the corresponding Go error struct.
//
// Solidity: error ZeroKey()
func (nodeRegistry *NodeRegistry) UnpackZeroKeyError(raw []byte) (*NodeRegistryZeroKey, error) {
	out := new(NodeRegistryZeroKey)
	if err := nodeRegistry.abi.UnpackIntoInterface(out, "ZeroKey", raw); err != nil {
		return nil, err
	}
	return out, nil
}
