#!/usr/bin/env python3
"""Where a process's resident memory comes from: /proc/PID/smaps grouped by kind.

    smaps.py PID [PID...]        one block per process: kB of Rss and Pss per group

Groups: each mapped file by name (text, data, relocations of the binary and each library),
[heap] (the main malloc arena), malloc arenas (glibc's other arenas: 64 MiB reservations,
rw part + PROT_NONE rest), thread stacks (anonymous rw mappings right above a 4 KiB guard
page), other anonymous memory, [stack] (the main thread's).
"""
import os
import sys

ARENA_KB = 65536


def mappings(pid):
    out = []
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if "-" in parts[0] and len(parts) >= 5 and not parts[0].endswith(":"):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = {"lo": lo, "hi": hi, "perms": parts[1], "name": parts[5] if len(parts) > 5 else "",
                       "Rss": 0, "Pss": 0}
                out.append(cur)
            elif parts[0] in ("Rss:", "Pss:") and cur is not None:
                cur[parts[0][:-1]] = int(parts[1])
    return out


def classify(maps):
    groups = {}
    for i, m in enumerate(maps):
        name = m["name"]
        size_kb = (m["hi"] - m["lo"]) // 1024
        if name.startswith("/"):
            key = os.path.basename(name)
        elif name in ("[heap]", "[stack]", "[vdso]", "[vvar]", "[vsyscall]"):
            key = name
        elif name == "" and m["perms"].startswith("rw"):
            nxt = maps[i + 1] if i + 1 < len(maps) else None
            prv = maps[i - 1] if i > 0 else None
            if nxt and nxt["name"] == "" and nxt["perms"].startswith("---") and nxt["lo"] == m["hi"] \
                    and size_kb + (nxt["hi"] - nxt["lo"]) // 1024 == ARENA_KB:
                key = "malloc arenas"
            elif size_kb == ARENA_KB and m["lo"] % (ARENA_KB * 1024) == 0:
                key = "malloc arenas"
            elif prv and prv["name"] == "" and prv["perms"].startswith("---") and prv["hi"] == m["lo"] \
                    and (prv["hi"] - prv["lo"]) // 1024 <= 64:
                key = "thread stacks"
            else:
                key = "anon"
        else:
            key = name or "anon (other)"
        g = groups.setdefault(key, [0, 0])
        g[0] += m["Rss"]
        g[1] += m["Pss"]
    return groups


def threads(pid):
    try:
        return len(os.listdir("/proc/%d/task" % pid))
    except OSError:
        return 0


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def main():
    for arg in sys.argv[1:]:
        pid = int(arg)
        groups = classify(mappings(pid))
        total = [sum(v[0] for v in groups.values()), sum(v[1] for v in groups.values())]
        print("pid %d (%s), %d threads: Rss %d kB, Pss %d kB" % (pid, comm(pid), threads(pid), total[0], total[1]))
        for key, (rss, pss) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
            if rss >= 64:
                print("  %-40s Rss %7d kB  Pss %7d kB" % (key, rss, pss))


if __name__ == "__main__":
    main()
