# NodeRegistry contract: Solidity build and Go bindings (contracts/, bot/contract/).
# Included by the Makefile; also usable alone: make -f mk/contract.mk contract-check
#
#   make contract        npm ci (pinned solc), compile, regenerate
#                        contracts/build/NodeRegistry.{abi,bin} and
#                        bot/contract/noderegistry.go (all committed)
#   make contract-check  regenerate into a temp dir and fail if the committed
#                        files differ (CI); needs the npm registry for npm ci
GO ?= go
NPM ?= npm
CONTRACT_GENERATED := contracts/build/NodeRegistry.abi contracts/build/NodeRegistry.bin bot/contract/noderegistry.go

.PHONY: contract contract-deps contract-check

# npm ci only when the lock file changed since the last install.
contracts/node_modules/.package-lock.json: contracts/package.json contracts/package-lock.json
	cd contracts && $(NPM) ci --no-audit --no-fund
	@touch $@

contract-deps: contracts/node_modules/.package-lock.json

contract: contract-deps
	GO=$(GO) contracts/build.sh .

contract-check: contract-deps
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	GO=$(GO) contracts/build.sh "$$tmp" || exit 1; \
	rc=0; for f in $(CONTRACT_GENERATED); do \
		if ! diff -u "$$f" "$$tmp/$$f"; then echo "$$f is stale: run 'make contract' and commit" >&2; rc=1; fi; \
	done; \
	[ $$rc -eq 0 ] && echo "contract: committed ABI, bytecode and bindings are up to date"; exit $$rc
