#!/usr/bin/env python3
"""Readable table from JMH JSON results of this module (any mix of benchmarks): one row per
benchmark and parameters, with the score, its error and the unit. Standard library only.
Usage: python3 bench/summarize.py out/jmh.json [more.json ...]"""
import json
import sys

rows = []
for path in sys.argv[1:]:
    for b in json.load(open(path)):
        name = b["benchmark"].rsplit(".", 2)
        params = " ".join(f"{k}={v}" for k, v in sorted(b.get("params", {}).items()))
        m = b["primaryMetric"]
        rows.append((name[-2] + "." + name[-1], params, m["score"], m.get("scoreError", float("nan")), m["scoreUnit"]))
w1 = max((len(r[0]) for r in rows), default=10)
w2 = max((len(r[1]) for r in rows), default=10)
print(f"{'benchmark':{w1}}  {'parameters':{w2}}  {'score':>12}  {'error':>10}  unit")
for r in rows:
    print(f"{r[0]:{w1}}  {r[1]:{w2}}  {r[2]:12.3f}  {r[3]:10.3f}  {r[4]}")
