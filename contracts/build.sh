#!/usr/bin/env bash
# Compiles NodeRegistry.sol with the pinned solc (contracts/package.json) and
# generates the Go bindings with abigen v2 (the tool pinned in go.mod).
#
#   contracts/build.sh OUTDIR
#
# writes OUTDIR/contracts/build/NodeRegistry.{abi,bin} and
# OUTDIR/bot/contract/noderegistry.go. `make contract` passes the repository
# root; `make contract-check` passes a temp dir and diffs. Needs `npm ci` first.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
GO="${GO:-go}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$root/contracts"
if [ ! -x node_modules/.bin/solcjs ]; then
	echo "contracts/node_modules is missing: run 'make contract-deps' (npm ci)" >&2
	exit 1
fi
# The source unit name (NodeRegistry.sol, relative) is part of the bytecode's
# metadata hash: always compile from contracts/ with the same path.
node_modules/.bin/solcjs --abi --bin --optimize -o "$tmp" NodeRegistry.sol
mkdir -p "$out/contracts/build" "$out/bot/contract"
mv "$tmp/NodeRegistry_sol_NodeRegistry.abi" "$out/contracts/build/NodeRegistry.abi"
mv "$tmp/NodeRegistry_sol_NodeRegistry.bin" "$out/contracts/build/NodeRegistry.bin"

cd "$root"
"$GO" tool abigen --v2 \
	--abi "$out/contracts/build/NodeRegistry.abi" \
	--bin "$out/contracts/build/NodeRegistry.bin" \
	--pkg contract --type NodeRegistry \
	--out "$out/bot/contract/noderegistry.go"
chmod 644 "$out/contracts/build/NodeRegistry.abi" "$out/contracts/build/NodeRegistry.bin" "$out/bot/contract/noderegistry.go"
