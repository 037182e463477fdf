// Package devchain runs the lab's development chain: a real `geth --dev`
// node serving JSON-RPC over HTTP and WebSocket, with the NodeRegistry
// contract (contracts/NodeRegistry.sol) deployed on it, and sends the
// registry transactions a DDC provider and a cluster manager would.
//
// The geth binary is built with `go install` from the same go-ethereum module
// version this program depends on and cached under the user's cache
// directory (Geth). Start runs it with a developer account whose key the
// caller knows (written to the data directory's keystore, which `geth --dev`
// takes as its prefunded account), Deploy deploys the registry and creates
// the provider and cluster-manager accounts, and Info (saved as JSON under
// the lab's state directory, InfoFile) is what `ddc-gitops lab node ...`
// reads to send Register, Admit and Remove.
//
// Everything here is for a throwaway local chain: the private keys are kept
// in plain text in Info.
package devchain
