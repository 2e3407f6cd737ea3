#!/bin/bash
# sd-ns.sh: a real systemd as PID 1 of private namespaces, for testing Sentinel's unit files on a
# machine whose own PID 1 is not systemd (CI containers and VMs). Needs root, util-linux
# (unshare, nsenter), systemd and overlayfs.
#
#   sd-ns.sh check             exit 0 if this machine can run it, else print why and exit 1
#   sd-ns.sh up [UNIT...]      boot; UNITs (files or NAME.d directories) go to /run/systemd/system
#   sd-ns.sh ctl ARGS...       systemctl in the namespace
#   sd-ns.sh journal ARGS...   journalctl --no-pager in the namespace
#   sd-ns.sh exec CMD...       any command in the namespace (same mounts, pids, cgroups)
#   sd-ns.sh nspid             PID 1 of the namespace, as the host sees it
#   sd-ns.sh down              power off, wait, remove the cgroups and the overlay layers
#
# SDNS_STATE (a directory) holds one instance's state: run several at once with different ones.
#
# Isolation from the host: the namespace shares the host's file systems and network, so
#  - /etc, /usr/local and /var are overlays in the namespace (writes land in SDNS_STATE, the host's
#    files never change): installing units, creating users (systemd-sysusers), tmpfiles,
#    LogsDirectory= and StateDirectory= all happen there;
#  - /run is a fresh tmpfs, /sys and /proc/sys are read-only, the cgroup tree is our own;
#  - units that would touch the shared host are masked: tmpfiles setup/clean (`D /tmp` would wipe
#    the host's /tmp), sysctl, modules, binfmt, udev, sysusers at boot, timers, gettys, …;
#  - the boot target wants only sysinit.target and journald, so nothing of multi-user.target
#    (the host's enabled web servers, databases) starts.
# A unit under test must bind ports nobody uses (the network is the host's) and, if it has
# PrivateTmp=, must not run binaries from /tmp (bind-mount or install them elsewhere).
set -euo pipefail
STATE=${SDNS_STATE:-/tmp/sd-ns-state}
SYSTEMD=${SDNS_SYSTEMD:-/lib/systemd/systemd}
OVERLAYS=${SDNS_OVERLAYS:-/etc /usr/local /var}

cg2_root() {
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then echo /sys/fs/cgroup; else echo /sys/fs/cgroup/unified; fi
}
nspid() { cat "$STATE/nspid"; }
in_ns() { nsenter -t "$(nspid)" -m -p -u -i -C "$@"; }

MASKED="systemd-tmpfiles-setup.service systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.timer
 systemd-tmpfiles-clean.service systemd-sysctl.service systemd-modules-load.service systemd-binfmt.service
 proc-sys-fs-binfmt_misc.automount kmod-static-nodes.service systemd-udevd.service systemd-udev-trigger.service
 systemd-udev-settle.service systemd-sysusers.service systemd-firstboot.service systemd-random-seed.service
 systemd-remount-fs.service systemd-timesyncd.service systemd-pstore.service systemd-machine-id-commit.service
 systemd-repart.service systemd-update-utmp.service systemd-journal-flush.service systemd-hwdb-update.service
 console-getty.service getty@tty1.service getty.target timers.target remote-fs.target"

# Why this machine cannot run it (empty: it can).
problem() {
  [ "$(id -u)" = 0 ] || { echo "not root (namespaces, cgroups and mounts need root)"; return; }
  [ -x "$SYSTEMD" ] || { echo "no systemd binary at $SYSTEMD (apt-get install systemd)"; return; }
  for t in unshare nsenter systemctl journalctl; do
    command -v "$t" >/dev/null || { echo "$t is missing"; return; }
  done
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlayfs"; return; }
  [ -w "$(cg2_root)" ] || { echo "no writable cgroup2 hierarchy at $(cg2_root)"; return; }
}

# Runs as PID 1 of the new namespaces, then becomes systemd.
stage2() {
  i=0
  for d in $OVERLAYS; do
    i=$((i + 1)); mkdir -p "$STATE/layers/$i/upper" "$STATE/layers/$i/work"
    mount -t overlay overlay -o "lowerdir=$d,upperdir=$STATE/layers/$i/upper,workdir=$STATE/layers/$i/work" "$d"
  done
  mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
  mkdir -p /run/lock /run/systemd/system /run/systemd/journald.conf.d
  umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup 2>/dev/null || true
  mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup   # rooted at our cgroup (--cgroup)
  mount -o remount,bind,ro /sys
  mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
  if [ -e /proc/sysrq-trigger ]; then
    mount --bind /proc/sysrq-trigger /proc/sysrq-trigger && mount -o remount,bind,ro /proc/sysrq-trigger
  fi
  printf '[Journal]\nReadKMsg=no\nStorage=volatile\n' > /run/systemd/journald.conf.d/sd-ns.conf
  for u in $MASKED; do ln -sf /dev/null "/run/systemd/system/$u"; done
  cp -r "$STATE"/units/. /run/systemd/system/
  exec env -i container=sd-ns PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    "$SYSTEMD" --system --unit=sd-ns.target --show-status=no
}

case "${1:-}" in
  check)
    p=$(problem); [ -z "$p" ] || { echo "$p"; exit 1; } ;;
  stage2) stage2 ;;
  up)
    shift
    p=$(problem); [ -z "$p" ] || { echo "cannot boot systemd here: $p"; exit 1; }
    [ ! -e "$STATE/nspid" ] || { echo "already up (state $STATE)"; exit 1; }
    mkdir -p "$STATE/units"
    for f in "$@"; do cp -r "$f" "$STATE/units/"; done
    cat > "$STATE/units/sd-ns.target" <<'TARGET'
[Unit]
Description=Boot target of a systemd in private namespaces (tests)
Wants=sysinit.target systemd-journald.socket systemd-journald-dev-log.socket
After=sysinit.target
TARGET
    here=$(cd "$(dirname "$0")" && pwd)
    cg="$(cg2_root)/sd-ns.$$"; mkdir "$cg"; echo "$cg" > "$STATE/cgroup"
    ( echo "$BASHPID" > "$cg/cgroup.procs"
      exec setsid unshare --pid --fork --kill-child --mount --uts --ipc --cgroup --mount-proc \
           --propagation private env SDNS_STATE="$STATE" SDNS_SYSTEMD="$SYSTEMD" SDNS_OVERLAYS="$OVERLAYS" \
           bash "$here/sd-ns.sh" stage2 </dev/null >"$STATE/console.log" 2>&1 ) &
    echo $! > "$STATE/unsharepid"
    p=""
    for _ in $(seq 1 100); do            # PID 1 of the namespace: the child of unshare
      p=$(ps -o pid= --ppid "$(cat "$STATE/unsharepid")" 2>/dev/null | tr -d ' ' | head -1 || true)
      [ -n "$p" ] && break; sleep 0.05
    done
    [ -n "$p" ] || { echo "unshare did not fork"; cat "$STATE/console.log"; exit 1; }
    echo "$p" > "$STATE/nspid"
    for _ in $(seq 1 200); do            # the manager's private bus
      in_ns test -S /run/systemd/private 2>/dev/null && break; sleep 0.05
    done
    in_ns test -S /run/systemd/private || { echo "systemd did not come up"; cat "$STATE/console.log"; exit 1; }
    in_ns systemctl is-system-running --wait >/dev/null || true
    ;;
  ctl) shift; in_ns systemctl "$@" ;;
  journal) shift; in_ns journalctl --no-pager "$@" ;;
  exec) shift; in_ns "$@" ;;
  nspid) nspid ;;
  down)
    if [ -e "$STATE/nspid" ]; then
      u=$(cat "$STATE/unsharepid"); p=$(nspid)
      kill -s SIGRTMIN+4 "$p" 2>/dev/null || true       # systemd: power off
      for _ in $(seq 1 100); do kill -0 "$u" 2>/dev/null || break; sleep 0.05; done
      if kill -0 "$u" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; sleep 0.3; fi
    fi
    if [ -e "$STATE/cgroup" ]; then
      cg=$(cat "$STATE/cgroup")
      for _ in $(seq 1 40); do
        [ -d "$cg" ] || break
        find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        [ -d "$cg" ] && sleep 0.05
      done
      [ ! -d "$cg" ] || echo "warning: cgroup $cg left behind"
    fi
    rm -rf "$STATE/layers" "$STATE/units"
    rm -f "$STATE/nspid" "$STATE/unsharepid" "$STATE/cgroup"
    ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
