#!/usr/bin/env bash
# Installs what ddc-gitops' tests and lab need on Debian: haproxy 2.6,
# keepalived 2.2, git, iproute2, openssl, make, Node.js + npm (for the
# pinned Solidity compiler), the Docker engine (docker.io: container hosts),
# Prometheus + Alertmanager (promtool), PowerDNS Authoritative with the bind
# backend, dnsutils (dig), Chromium (the status page's browser test),
# debootstrap and Ansible (the deployment test). As root it installs missing
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
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have dockerd || need+=(docker.io)
have prometheus || need+=(prometheus)
have promtool || need+=(prometheus)
have prometheus-alertmanager || need+=(prometheus-alertmanager)
have pdns_server || need+=(pdns-server)
[ -e /usr/lib/x86_64-linux-gnu/pdns/libbindbackend.so ] || ls /usr/lib/*/pdns/libbindbackend.so >/dev/null 2>&1 || need+=(pdns-backend-bind)
have dig || need+=(dnsutils)
have chromium || need+=(chromium)
have debootstrap || need+=(debootstrap)
have ansible-playbook || need+=(ansible)
have curl || need+=(curl)

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
apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
# Debian starts the packaged services; the tests and the lab run their own
# processes, so stop the system ones (they would hold :80 and the VIPs).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now haproxy keepalived docker docker.socket containerd pdns prometheus prometheus-alertmanager prometheus-node-exporter >/dev/null 2>&1 || true
fi
