#!/usr/bin/env python3
"""idle-rss.py PORT PID [N]: memory per idle keep-alive connection of the server PID.

Opens N connections (default 10,000) to 127.0.0.1:PORT, sends one `GET /small` on each and
reads its response (so each is an idle keep-alive connection after a request, as a browser's),
then reads the server's VmRSS. Prints RSS before, after and per connection; the connections
close when it exits. Needs N + 100 descriptors (raised here) on both sides."""
import resource, socket, sys, time

port, pid = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, n + 1000)), hard))


def rss_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS for %d" % pid)


def get(s):
    s.sendall(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += s.recv(65536)


warm = socket.create_connection(("127.0.0.1", port))
get(warm)
time.sleep(0.2)
before = rss_kib()
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    get(s)
    conns.append(s)
time.sleep(0.5)
after = rss_kib()
print("idle: %d keep-alive connections: RSS %.1f -> %.1f MiB, %.0f bytes per connection"
      % (n, before / 1024, after / 1024, (after - before) * 1024 / n))
