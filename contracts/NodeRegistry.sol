// SPDX-License-Identifier: Apache-2.0
pragma solidity >=0.8.20 <0.9.0;

/// @title NodeRegistry: the EVM mirror of the DDC chain's node registry.
/// @notice A provider creates a node with its full record; the manager of the
/// node's cluster adds it to the cluster and validates it (in either order).
/// A node is admitted only when it is both in its cluster and validated.
/// Every event carries the node's full record and its cluster flags, so a
/// watcher can follow the registry from logs alone.
contract NodeRegistry {
    /// @notice The DDC node record (ddc-nodes StorageNodeParams plus keys).
    /// mode: 1 full, 2 storage, 3 cache, 4 dac.
    struct NodeRecord {
        bytes32 pubKey;
        bytes32 providerId;
        bytes20 clusterId;
        string host;
        string domain;
        bool ssl;
        uint16 httpPort;
        uint16 grpcPort;
        uint16 p2pPort;
        uint8 mode;
    }

    /// @notice The parameters a provider may change after creation.
    struct NodeParams {
        string host;
        string domain;
        bool ssl;
        uint16 httpPort;
        uint16 grpcPort;
        uint16 p2pPort;
        uint8 mode;
    }

    /// @notice A node as stored: its record, the account that created it and
    /// its cluster flags.
    struct NodeView {
        NodeRecord record;
        address provider;
        bool inCluster;
        bool validated;
    }

    event NodeCreated(bytes32 indexed pubKey, NodeRecord node, bool inCluster, bool validated);
    event ClusterNodeAdded(bytes32 indexed pubKey, bytes20 indexed clusterId, NodeRecord node, bool inCluster, bool validated);
    event ClusterNodeValidated(bytes32 indexed pubKey, bytes20 indexed clusterId, NodeRecord node, bool inCluster, bool validated);
    event NodeParamsChanged(bytes32 indexed pubKey, NodeRecord node, bool inCluster, bool validated);
    event ClusterNodeRemoved(bytes32 indexed pubKey, bytes20 indexed clusterId, NodeRecord node, bool inCluster, bool validated);
    event NodeRemoved(bytes32 indexed pubKey, NodeRecord node, bool inCluster, bool validated);
    event ClusterManagerSet(bytes20 indexed clusterId, address manager);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error NotProvider(bytes32 pubKey);
    error NotClusterManager(bytes20 clusterId);
    error NotManagerOrProvider(bytes32 pubKey);
    error NodeExists(bytes32 pubKey);
    error NodeNotFound(bytes32 pubKey);
    error NoCluster(bytes32 pubKey);
    error AlreadyInCluster(bytes32 pubKey);
    error NotInCluster(bytes32 pubKey);
    error ClusterMismatch(bytes32 pubKey, bytes20 requested, bytes20 declared);
    error InvalidMode(uint8 mode);
    error ZeroKey();

    address public owner;
    mapping(bytes20 => address) public clusterManager;

    mapping(bytes32 => NodeView) private nodes;
    bytes32[] private keys;
    // 1-based position of a key in keys; 0 means absent.
    mapping(bytes32 => uint256) private position;

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Hands the registry (the right to set cluster managers) to another account.
    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Sets the account that manages a cluster; the zero address removes it.
    function setClusterManager(bytes20 clusterId, address manager) external onlyOwner {
        clusterManager[clusterId] = manager;
        emit ClusterManagerSet(clusterId, manager);
    }

    /// @notice Creates a node. The caller becomes its provider. clusterId is
    /// the cluster the provider asks to join (zero: none yet).
    function createNode(NodeRecord calldata rec) external {
        if (rec.pubKey == bytes32(0)) revert ZeroKey();
        if (position[rec.pubKey] != 0) revert NodeExists(rec.pubKey);
        if (rec.mode < 1 || rec.mode > 4) revert InvalidMode(rec.mode);
        NodeView storage n = nodes[rec.pubKey];
        n.record = rec;
        n.provider = msg.sender;
        keys.push(rec.pubKey);
        position[rec.pubKey] = keys.length;
        emit NodeCreated(rec.pubKey, n.record, false, false);
    }

    /// @notice The cluster's manager adds a node to the cluster. A node that
    /// declared another cluster cannot be added.
    function addNodeToCluster(bytes20 clusterId, bytes32 pubKey) external {
        NodeView storage n = _node(pubKey);
        if (clusterId == bytes20(0)) revert NoCluster(pubKey);
        if (msg.sender != clusterManager[clusterId]) revert NotClusterManager(clusterId);
        if (n.inCluster) revert AlreadyInCluster(pubKey);
        bytes20 declared = n.record.clusterId;
        if (declared != bytes20(0) && declared != clusterId) revert ClusterMismatch(pubKey, clusterId, declared);
        n.record.clusterId = clusterId;
        n.inCluster = true;
        emit ClusterNodeAdded(pubKey, clusterId, n.record, true, n.validated);
    }

    /// @notice The manager of the node's cluster validates it, before or after
    /// adding it to the cluster.
    function validateNode(bytes32 pubKey) external {
        NodeView storage n = _node(pubKey);
        bytes20 clusterId = n.record.clusterId;
        if (clusterId == bytes20(0)) revert NoCluster(pubKey);
        if (msg.sender != clusterManager[clusterId]) revert NotClusterManager(clusterId);
        n.validated = true;
        emit ClusterNodeValidated(pubKey, clusterId, n.record, n.inCluster, true);
    }

    /// @notice The provider changes the node's parameters.
    function setNodeParams(bytes32 pubKey, NodeParams calldata p) external {
        NodeView storage n = _node(pubKey);
        if (msg.sender != n.provider) revert NotProvider(pubKey);
        if (p.mode < 1 || p.mode > 4) revert InvalidMode(p.mode);
        NodeRecord storage r = n.record;
        r.host = p.host;
        r.domain = p.domain;
        r.ssl = p.ssl;
        r.httpPort = p.httpPort;
        r.grpcPort = p.grpcPort;
        r.p2pPort = p.p2pPort;
        r.mode = p.mode;
        emit NodeParamsChanged(pubKey, n.record, n.inCluster, n.validated);
    }

    /// @notice The cluster's manager or the node's provider takes the node out
    /// of its cluster; it loses its validation and keeps its declared cluster.
    function removeNodeFromCluster(bytes32 pubKey) external {
        NodeView storage n = _node(pubKey);
        if (!n.inCluster) revert NotInCluster(pubKey);
        bytes20 clusterId = n.record.clusterId;
        if (msg.sender != clusterManager[clusterId] && msg.sender != n.provider) revert NotManagerOrProvider(pubKey);
        n.inCluster = false;
        n.validated = false;
        emit ClusterNodeRemoved(pubKey, clusterId, n.record, false, false);
    }

    /// @notice The provider deletes the node, in a cluster or not.
    function removeNode(bytes32 pubKey) external {
        NodeView storage n = _node(pubKey);
        if (msg.sender != n.provider) revert NotProvider(pubKey);
        NodeRecord memory rec = n.record;
        uint256 pos = position[pubKey];
        uint256 last = keys.length;
        if (pos != last) {
            bytes32 moved = keys[last - 1];
            keys[pos - 1] = moved;
            position[moved] = pos;
        }
        keys.pop();
        delete position[pubKey];
        delete nodes[pubKey];
        emit NodeRemoved(pubKey, rec, false, false);
    }

    /// @notice The number of nodes in the registry.
    function nodeCount() external view returns (uint256) {
        return keys.length;
    }

    /// @notice Up to limit nodes from position offset (the order changes when a node is removed).
    function listNodes(uint256 offset, uint256 limit) external view returns (NodeView[] memory page) {
        uint256 total = keys.length;
        if (offset >= total) return new NodeView[](0);
        uint256 end = total - offset < limit ? total : offset + limit;
        page = new NodeView[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            page[i - offset] = nodes[keys[i]];
        }
    }

    /// @notice One node; reverts with NodeNotFound when it does not exist.
    function getNode(bytes32 pubKey) external view returns (NodeView memory) {
        return _node(pubKey);
    }

    function _node(bytes32 pubKey) private view returns (NodeView storage n) {
        if (position[pubKey] == 0) revert NodeNotFound(pubKey);
        return nodes[pubKey];
    }
}
