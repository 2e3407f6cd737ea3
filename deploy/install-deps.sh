#!/usr/bin/env bash
# Installs the system packages Sentinel builds against (and, with --test, what the test suite
# uses). Safe to run repeatedly: packages already present are not reinstalled.
# Needs: Debian 12 (or Ubuntu 22.04+), the Swift 6 toolchain on PATH, root or sudo.
set -euo pipefail

packages=(libssl-dev libsystemd-dev zlib1g-dev libmaxminddb-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
    # openssl: the TLS tests make their certificates and run s_client; systemd and util-linux:
    # SystemdUnitTests boots a real systemd in private namespaces (it needs root as well);
    # redis-server: the Redis rate-limit backend's tests start their own server on a free port.
    packages+=(curl openssl systemd util-linux redis-server)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    echo "install-deps: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    echo "install-deps: the Swift 6 toolchain is not on PATH; install it from swift.org and retry" >&2
    exit 1
fi
