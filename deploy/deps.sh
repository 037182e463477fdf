#!/usr/bin/env bash
# Installs what ddc-gitops' tests and lab need on Debian: haproxy 2.6,
# keepalived 2.2, git, iproute2, openssl, make, and Node.js + npm (for the
# pinned Solidity compiler). As root it installs missing
# packages with apt-get; otherwise it lists what is missing and fails.
set -euo pipefail

need=()
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v keepalived >/dev/null 2>&1 || [ -x /usr/sbin/keepalived ] || need+=(keepalived)
command -v git >/dev/null 2>&1 || need+=(git)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v make >/dev/null 2>&1 || need+=(make)
# The Solidity compiler (npm package solc, pinned in contracts/) needs Node.js.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${need[*]}; run as root or: sudo apt-get install -y ${need[*]}" >&2
	exit 1
fi
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged services; the tests and the lab run their own
# processes, so stop the system ones (they would hold :80 and the VIPs).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now haproxy keepalived >/dev/null 2>&1 || true
fi
