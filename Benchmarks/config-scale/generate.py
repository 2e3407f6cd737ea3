#!/usr/bin/env python3
"""Writes a large Sentinel configuration for the parse + validate benchmark.

usage: generate.py ROUTES UPSTREAMS > big.kdl

Each upstream has two targets, a health check and a pool block; each route has two or three
conditions, a priority and policies, so every section reader and the validator do real work.
"""
import sys

routes = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
upstreams = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
out = sys.stdout
out.write('schema-version "1.0"\nsystem {\n    worker-threads 0\n}\n')
out.write('listeners {\n    listener "http" {\n        address "0.0.0.0:8080"\n        protocol "http"\n    }\n}\n')
out.write("upstreams {\n")
for u in range(upstreams):
    a, b = divmod(u, 250)
    out.write(f'    upstream "svc-{u}" {{\n')
    out.write(f'        target "10.{a}.{b}.1:8080" weight=2\n')
    out.write(f'        target "10.{a}.{b}.2:8080"\n')
    out.write('        load-balancing "least_connections"\n')
    out.write('        health-check {\n            type "http" {\n                path "/health"\n            }\n            interval-secs 10\n        }\n')
    out.write('        connection-pool {\n            max-connections 100\n            idle-timeout 60\n        }\n')
    out.write("    }\n")
out.write("}\nroutes {\n")
for r in range(routes):
    out.write(f'    route "route-{r}" {{\n')
    out.write(f"        priority {r % 100}\n")
    out.write("        matches {\n")
    out.write(f'            path-prefix "/api/v{r % 7}/resource-{r}"\n')
    if r % 3 == 0:
        out.write('            method "GET" "HEAD"\n')
    if r % 5 == 0:
        out.write(f'            host "svc{r}.example.com"\n')
    out.write("        }\n")
    out.write(f'        upstream "svc-{r % upstreams}"\n')
    out.write("        policies {\n            request-headers {\n")
    out.write(f'                set {{\n                    X-Route "route-{r}"\n                }}\n')
    out.write("            }\n        }\n")
    out.write("    }\n")
out.write("}\n")
