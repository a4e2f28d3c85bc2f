#!/usr/bin/env python3
"""Compares MatmulBenchmark (ours) with OpenBlasMatmulBenchmark from JMH JSON result files.

Usage: matmul_table.py [--backend cpu] RESULT.json [MORE.json ...]

Prints one table per thread count: shape, op, our us/op, OpenBLAS us/op, ours as % of OpenBLAS
(openblas_time / our_time * 100: 100 = same speed, higher = we are closer to / faster than OpenBLAS)
and GFLOP/s of both (2*N*C*OC flops per product; backward does two products). Python 3 standard library only.
"""
import argparse
import json
import sys

SHAPE_ORDER = ["512x64x192", "512x64x256", "512x256x64", "512x64x65", "16384x384x1536", "16384x1536x384"]
OPS = ["forward", "backward", "backward_input", "backward_weight"]
PRODUCTS = {"forward": 1, "backward": 2, "backward_input": 1, "backward_weight": 1}
TO_US = {"us/op": 1.0, "ns/op": 1e-3, "ms/op": 1e3, "s/op": 1e6}


def num(x):
    """JMH writes "NaN" (a string) for the error of fewer than 2 iterations."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def load(paths, backend):
    ours, blas = {}, {}
    for path in paths:
        with open(path) as f:
            for r in json.load(f):
                cls, op = r["benchmark"].rsplit(".", 2)[-2:]
                p = r.get("params", {})
                m = r["primaryMetric"]
                if m["scoreUnit"] not in TO_US:
                    sys.exit(f"{path}: {r['benchmark']} is in {m['scoreUnit']}, want average time per op")
                k = TO_US[m["scoreUnit"]]
                key = (int(p.get("threads", 0)), p["shape"], op)
                val = (num(m["score"]) * k, num(m["scoreError"]) * k)
                if cls == "MatmulBenchmark" and p.get("backend") == backend:
                    ours[key] = val
                elif cls == "OpenBlasMatmulBenchmark":
                    blas[key] = val
    return ours, blas


def fmt_us(v):
    if v is None:
        return "-"
    score, err = v
    return f"{score:,.1f} ±{err:,.1f}" if err == err else f"{score:,.1f}"


def gflops(shape, op, v):
    if v is None:
        return "-"
    n, c, oc = (int(x) for x in shape.split("x"))
    return f"{2.0 * n * c * oc * PRODUCTS[op] / (v[0] * 1e-6) / 1e9:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="cpu", help="which of MatmulBenchmark's backends is 'ours' (default cpu)")
    ap.add_argument("json", nargs="+", help="JMH result files (-rf json)")
    a = ap.parse_args()
    ours, blas = load(a.json, a.backend)
    if not ours and not blas:
        sys.exit("no MatmulBenchmark / OpenBlasMatmulBenchmark results in " + ", ".join(a.json))
    keys = set(ours) | set(blas)
    shapes = sorted({k[1] for k in keys}, key=lambda s: (SHAPE_ORDER.index(s) if s in SHAPE_ORDER else 99, s))
    header = ["shape", "op", f"ours ({a.backend}) us/op", "OpenBLAS us/op", "ours % of OpenBLAS",
              "ours GFLOP/s", "OpenBLAS GFLOP/s"]
    for threads in sorted({k[0] for k in keys}, reverse=True):
        rows = []
        for shape in shapes:
            for op in OPS:
                o, b = ours.get((threads, shape, op)), blas.get((threads, shape, op))
                if o is None and b is None:
                    continue
                pct = f"{b[0] / o[0] * 100:.0f}%" if o and b else "-"
                rows.append([shape, op, fmt_us(o), fmt_us(b), pct, gflops(shape, op, o), gflops(shape, op, b)])
        print(f"\nthreads={threads}  (us/op: JMH average ± 99.9% error; % = OpenBLAS time / our time * 100)\n")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
        right = [False, False, True, True, True, True, True]
        line = lambda r: "| " + " | ".join(c.rjust(w) if rt else c.ljust(w) for c, w, rt in zip(r, widths, right)) + " |"
        print(line(header))
        print("|" + "|".join(("-" * (w + 1) + ":") if rt else ("-" * (w + 2)) for w, rt in zip(widths, right)) + "|")
        for r in rows:
            print(line(r))


if __name__ == "__main__":
    main()
