#!/bin/sh
# Installs sentinel-stack with its systemd unit, sysusers and tmpfiles entries and its docs, and
# the shipped agents (sentinel-agent-echo, -auth, -waf) with their units when they were built
# next to it.
# Run from the repository root, as root, after building:
#
#   systemd/install.sh [BINARY]          BINARY defaults to .build/release/sentinel-stack
#
# With DESTDIR set, the files go under that staging root and nothing else happens (packaging).
# Without it, the sentinel user and /etc/sentinel are created, the bundled configuration is
# installed if there is none yet, and systemd reloads its units. Enable the service yourself:
#   systemctl enable --now sentinel-stack
set -eu
BIN=${1:-.build/release/sentinel-stack}
D=${DESTDIR:-}
[ -f systemd/sentinel-stack.service ] || { echo "run from the repository root" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no executable $BIN (build first: see systemd/README.md)" >&2; exit 2; }
install -D -m 0755 "$BIN" "$D/usr/local/bin/sentinel-stack"
# The orphan guard (C, about 1 MiB resident), when built next to the binary; without it the master
# runs its own `guard` role, a full Swift process (docs/stack.md).
G="$(dirname "$BIN")/sentinel-guard"
[ ! -x "$G" ] || install -D -m 0755 "$G" "$D/usr/local/bin/sentinel-guard"
install -D -m 0644 systemd/sentinel.sysusers "$D/etc/sysusers.d/sentinel.conf"
install -D -m 0644 systemd/sentinel.tmpfiles "$D/etc/tmpfiles.d/sentinel.conf"
install -D -m 0644 systemd/sentinel-stack.service "$D/etc/systemd/system/sentinel-stack.service"
install -D -m 0644 systemd/sentinel-stack.socket "$D/etc/systemd/system/sentinel-stack.socket"
# The units' Documentation= names these.
install -D -m 0644 docs/stack.md "$D/usr/local/share/doc/sentinel/stack.md"
install -D -m 0644 systemd/README.md "$D/usr/local/share/doc/sentinel/systemd.md"
install -D -m 0644 docs/agents.md "$D/usr/local/share/doc/sentinel/agents.md"
# The shipped agents, when built next to the binary: executables and their (optional) units.
for a in echo auth waf; do
    A="$(dirname "$BIN")/sentinel-agent-$a"
    [ -x "$A" ] || continue
    install -D -m 0755 "$A" "$D/usr/local/bin/sentinel-agent-$a"
    install -D -m 0644 "systemd/sentinel-agent-$a.service" "$D/etc/systemd/system/sentinel-agent-$a.service"
done
[ -z "$D" ] || exit 0
systemd-sysusers sentinel.conf
systemd-tmpfiles --create sentinel.conf
[ -e /etc/sentinel/sentinel.kdl ] || install -m 0640 -o root -g sentinel config/sentinel.kdl /etc/sentinel/sentinel.kdl
systemctl daemon-reload
