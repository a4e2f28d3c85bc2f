#!/usr/bin/env python3
"""The GPU check of a gpt bundle (run by gpu-check.sh beside it). Standard library only.

Measures, in one run on one machine: what the machine has (nvidia-smi, the driver's libraries,
TornadoVM's devices), gpt verify on the bundled PyTorch fixtures on the tornado backend, gpt bench of
the cpu and tornado backends (small and lecture configs; cpu with all cores), PyTorch's training step
on the same GPU (tools/torch_bench.py: eager fp32, TF32, bf16 autocast; fp32 through torch.compile), the launch plan of the lecture
step with each kernel's time (gpt bench --plan --profile), a 300-iteration training run of the small
config on the tornado backend next to the cpu backend's losses, and a 1000-iteration lecture-config run
on the tornado backend; and the Linear products alone (gpt bench --products), which compile in
seconds where a step's programs take a minute. Writes report.json, report.md,
log.txt, the bench JSON files and plan-lecture.txt to $OUT (else ./gpu-check-report); stops starting
new work after 8 minutes.
GPU_CHECK_PARTS=verify,bench,torch,steps,products,plan,lecture,train (the default: all but products,
in that order) picks parts, so that a check longer than one command may run can be split over two.
The steps part runs gpt verify on ref_small and times the tornado step (GPU_CHECK_STEPS_CONFIGS,
default small,lecture) on each device of GPU_CHECK_STEPS_DEVICES, on TornadoVM's PTX and CUDA drivers
with CUDA graphs on and off (GPT_CUDA_GRAPHS): a GPU seen through both OpenCL and
PTX launches the same kernels through two drivers, whose cost per launch differs (TornadoVM's OpenCL
path waits for the device before each launch: it writes the kernel's frame from a Java array with a
blocking write). The products part times the Linear products of GPU_CHECK_PRODUCTS_CONFIG (default
lecture) on each TornadoVM device of GPU_CHECK_PRODUCTS_DEVICES, with the wide product's k per pass as
the route takes it and with the other (gpt.tornado.wideKStep: 2 or 4). Device lists are "gpus" (the default:
every GPU TornadoVM lists, so a GPU seen through both OpenCL and PTX is timed through each), or device
numbers as gpt devices prints them ("0,2"). On TornadoVM's CUDA backend the products part also times
NVIDIA cuBLAS (fp32 and TF32) on the same buffers beside our kernels, and the steps part the lecture step
with its products on cuBLAS (GPT_GEMM=cublas): cuBLAS is found in this Python's packages (PyTorch's
nvidia/cublas/lib, or NVIDIA's cu13 wheel) unless GPT_CUBLAS names it.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv[1:]
OUT = os.environ.get("OUT") or os.path.join(os.getcwd(), "gpu-check-report")
# 8 minutes on a GPU (the server's commands may run 10); --quick is for a machine without one, where an
# OpenCL CPU driver such as PoCL compiles each program's kernels for tens of seconds on first use
BUDGET_S = float(os.environ.get("GPU_CHECK_BUDGET_S", "1500" if QUICK else "480"))
START = time.time()
ALL_PARTS = ("verify", "bench", "torch", "steps", "products", "plan", "lecture", "train")
PARTS = [p.strip() for p in os.environ.get("GPU_CHECK_PARTS", "verify,bench,torch,steps,plan,lecture,train").split(",")]
for p in PARTS:
    if p not in ALL_PARTS:
        sys.exit(f"gpu-check: GPU_CHECK_PARTS: no part {p!r} ({', '.join(ALL_PARTS)})")
PRODUCTS_CONFIG = os.environ.get("GPU_CHECK_PRODUCTS_CONFIG", "lecture")
PRODUCTS_DEVICES = os.environ.get("GPU_CHECK_PRODUCTS_DEVICES", "gpus").strip()
STEPS_DEVICES = os.environ.get("GPU_CHECK_STEPS_DEVICES", "gpus").strip()
STEPS_CONFIGS = [c.strip() for c in os.environ.get("GPU_CHECK_STEPS_CONFIGS", "small,lecture").split(",") if c.strip()]
os.makedirs(OUT, exist_ok=True)
LOG = open(os.path.join(OUT, "log.txt"), "w", encoding="utf-8")


def say(text):
    print(text, flush=True)
    LOG.write(text + "\n")
    LOG.flush()


def left():
    return BUDGET_S - (time.time() - START)


def run(cmd, timeout=300, env=None, skip_if_late=True):
    """Runs cmd; returns (exit code or None if it did not run/finish, output, seconds)."""
    if skip_if_late and left() <= 0:
        say(f"$ {' '.join(cmd)}\n(skipped: the check's time is used up)")
        return None, "skipped: out of time", 0.0
    say("$ " + " ".join(cmd))
    t0 = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=max(5, min(timeout, left() + 60)), env={**os.environ, **(env or {})})
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or "") if isinstance(e.stdout, str) else "", None
        out += "\n(timed out)"
    except OSError as e:
        out, rc = str(e), None
    secs = time.time() - t0
    LOG.write(out + f"\n(exit {rc}, {secs:.1f} s)\n\n")
    LOG.flush()
    tail = out.strip().splitlines()[-3:]
    for line in tail:
        print("  " + line, flush=True)
    return rc, out, secs


GPT = os.path.join(HERE, "gpt")
report = {"quick": QUICK, "parts": PARTS, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def find_cublas():
    """The folder of a libcublas.so.13 or .12 (with libcublasLt beside it) in this Python's packages, else None."""
    roots = [p for p in sys.path if os.path.isdir(p)] + glob.glob("/usr/local/cuda*/lib64")
    for root in roots:
        for pattern in ("nvidia/cu13/lib/libcublas.so.13", "nvidia/cublas/lib/libcublas.so.1[23]", "libcublas.so.1[23]"):
            for f in sorted(glob.glob(os.path.join(root, pattern)), reverse=True):
                return os.path.dirname(f)
    return None


if not os.environ.get("GPT_CUBLAS"):
    found = find_cublas()
    if found:
        os.environ["GPT_CUBLAS"] = found
report["cublas"] = os.environ.get("GPT_CUBLAS")

# ------------------------------------------------------------------ the machine
say("== probe")
probe = {}
rc, out, _ = run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], 30)
probe["nvidia_smi"] = out.strip() if rc == 0 else None
probe["driver_folders"] = {d: sorted(os.listdir(d))[:50] for d in glob.glob("/usr/local/nvidia/lib*") if os.path.isdir(d)}
rc, out, _ = run(["/bin/sh", "-c", "ldconfig -p | grep -i -e opencl -e cuda"], 30)
probe["ldconfig"] = out.strip().splitlines() if rc == 0 else []
probe["opencl_vendors"] = {f: open(f).read().strip() for f in glob.glob("/etc/OpenCL/vendors/*.icd")}
probe["nvidia_opencl"] = bool([l for l in probe["ldconfig"] if "libnvidia-opencl" in l]) or any(
    f.startswith("libnvidia-opencl") for fs in probe["driver_folders"].values() for f in fs)
probe["cores"] = os.cpu_count()
report["probe"] = probe
say(json.dumps(probe, indent=1)[:2000])

rc, out, _ = run([GPT, "devices"], 300, skip_if_late=False)
report["devices"] = out.strip()
tornado_lines = [l.strip() for l in out.splitlines() if re.match(r"\s+\d+: ", l)]
gpu = any("GPU" in l or "ACCELERATOR" in l for l in tornado_lines)
report["tornado_devices"] = tornado_lines
report["tornado_has_gpu"] = gpu
if not tornado_lines:
    say("no TornadoVM device: the tornado figures below will be missing (see the probe for the OpenCL driver)")

# ------------------------------------------------------------------ parity on the device
verify = {}
if "verify" in PARTS:
    say("== gpt verify on the tornado backend")
for f in sorted(glob.glob(os.path.join(HERE, "fixtures", "*.safetensors"))) if "verify" in PARTS else []:
    rc, out, secs = run([GPT, "verify", "--backend", "tornado", "--reference", f], 300)
    last = [l for l in out.splitlines() if l.startswith(("OK", "FAILED"))]
    verify[os.path.basename(f)] = {"exit": rc, "result": last[-1] if last else out.strip()[-300:], "seconds": round(secs, 1)}
report["verify"] = verify

# ------------------------------------------------------------------ speed: gpt, then PyTorch on the same GPU
bench = {}
configs = ["small"] if QUICK else ["small", "lecture"]
for cfg in configs if "bench" in PARTS else []:
    say(f"== gpt bench --config {cfg}")
    js = os.path.join(OUT, f"bench-{cfg}.json")
    iters, warm = ("20", "5") if cfg == "small" else ("3", "1")
    rc, out, secs = run([GPT, "bench", "--config", cfg, "--backend", "cpu,tornado", "--iters", iters, "--warmup", warm,
                         "--json", js, "--force"], 400)
    if rc == 0 and os.path.exists(js):
        data = json.load(open(js))
        bench[cfg] = {b["name"]: {"ms_median": b["ms_per_step"]["median"], "ms_min": b["ms_per_step"]["min"],
                                  "device": b["device"], "gflops": b["gflops"]} for b in data["backends"]}
    else:
        bench[cfg] = {"error": out.strip()[-500:]}
report["bench"] = bench

torch = {}
torch_bench = os.path.join(HERE, "tools", "torch_bench.py")
rc, out, _ = run(["python3", "-c", "import torch; print(torch.__version__, torch.cuda.is_available())"], 60)
cuda = rc == 0 and out.strip().endswith("True")
report["torch"] = {"version": out.strip() if rc == 0 else None, "cuda": cuda}
runs = []
if cuda:
    # eager in each precision, and fp32 through torch.compile: the anchor after eager
    runs = [(c, p) for c in configs for p in (["fp32", "tf32", "bf16", "fp32-compile"] if c == "lecture" else ["fp32"])]
else:
    runs = [("small", "fp32")]  # PyTorch on this machine's CPU: the small step only (the lecture one takes minutes)
for cfg, prec in runs if "torch" in PARTS else []:
    say(f"== PyTorch {cfg} {prec} on {'cuda' if cuda else 'cpu'}")
    tjs = os.path.join(tempfile.gettempdir(), f"torch-{cfg}-{prec}.json")
    precision, compiled = prec.split("-")[0], prec.endswith("-compile")
    rc, out, _ = run(["python3", torch_bench, "--config", cfg, "--device", "cuda" if cuda else "cpu", "--precision", precision,
                      "--warmup", "5" if cfg == "small" else "3", "--iters", "20" if cfg == "small" else "10",
                      "--threads", str(os.cpu_count()), "--data", os.path.join(HERE, "data", "tinyshakespeare.txt"),
                      "--json", tjs] + (["--compile"] if compiled else []), 300)
    if rc == 0 and os.path.exists(tjs):
        torch[f"{cfg}/{prec}"] = json.load(open(tjs))
    else:
        torch[f"{cfg}/{prec}"] = {"error": out.strip()[-500:]}
report["torch"]["runs"] = torch

# ------------------------------------------------------------------ the step on each GPU device
def gpu_devices(names):
    """Device numbers from a GPU_CHECK_*_DEVICES value: "gpus" is every GPU TornadoVM lists (None: its default)."""
    if names == "gpus":
        return [l.split(":")[0] for l in tornado_lines if "GPU" in l] or [None]
    return [d.strip() for d in names.split(",") if d.strip()]


step_runs = {}
if "steps" in PARTS and not QUICK:
    small_fixture = os.path.join(HERE, "fixtures", "ref_small.safetensors")
    for device in gpu_devices(STEPS_DEVICES):
        key = f"device {device}"
        dev = ["--device", device] if device is not None else []
        say("== verify and the small and lecture steps" + (f" on device {device}" if device else ""))
        row = {}
        rc, out, _ = run([GPT, "verify", "--backend", "tornado", "--reference", small_fixture] + dev, 300)
        last = [l for l in out.splitlines() if l.startswith(("OK", "FAILED"))]
        row["verify"] = last[-1] if last else out.strip()[-300:]
        # TornadoVM's PTX and CUDA drivers capture each program as CUDA graphs: timed with capture off too
        line = next((l for l in tornado_lines if device is not None and l.split(":")[0] == device), "")
        graphs = ["on", "off"] if re.search(r"\b(PTX|CUDA)\b", line) or (device is None and
                                                                         re.search(r"\b(PTX|CUDA)\b", " ".join(tornado_lines))) else ["on"]
        # on TornadoVM's CUDA backend, the lecture step with its Linear products on cuBLAS too (the ceiling)
        cuda = bool(re.search(r"\bCUDA\b", line)) or (device is None and re.search(r"\bCUDA\b", " ".join(tornado_lines)))
        runs = [(c, g, "own") for c in STEPS_CONFIGS for g in graphs]
        runs += [("lecture", "on", "cublas")] if cuda and "lecture" in STEPS_CONFIGS else []
        for cfg, g, gemm in runs:
            name = (cfg if g == "on" else cfg + " graphs off") + ("" if gemm == "own" else " " + gemm)
            iters, warm = ("20", "5") if cfg == "small" else ("5", "2")
            sjs = os.path.join(OUT, f"step-{cfg}-device{device}" + ("" if g == "on" else "-graphs-off")
                               + ("" if gemm == "own" else "-" + gemm) + ".json")
            rc, out, _ = run([GPT, "bench", "--config", cfg, "--backend", "tornado", "--iters", iters, "--warmup", warm,
                              "--json", sjs, "--force"] + dev, 400, env={"GPT_CUDA_GRAPHS": g, "GPT_GEMM": gemm})
            cfg = name
            if rc == 0 and os.path.exists(sjs):
                b = json.load(open(sjs))["backends"][0]
                row[cfg] = {"ms_median": b["ms_per_step"]["median"], "ms_min": b["ms_per_step"]["min"],
                            "device": b["device"]}
                # gpt's note on the training program's first run (TornadoVM and the driver compiling)
                first = re.search(r"'forward_backward' compiled and ran in ([0-9.]+) s", out)
                if first:
                    row[cfg]["first_run_s"] = float(first.group(1))
            else:
                row[cfg] = {"error": out.strip()[-500:]}
        step_runs[key] = row
report["steps"] = step_runs

# ------------------------------------------------------------------ the Linear products alone, per device
products = {}
if "products" in PARTS and not QUICK:
    for device in gpu_devices(PRODUCTS_DEVICES):
        # the wide product's k per pass (Gemm.kStep): the route's own (4 on PTX, 2 on CUDA and OpenCL), then
        # the other, so that the run shows which the GPU prefers
        line = next((l for l in tornado_lines if device is not None and l.split(":")[0] == device), "")
        ptx = bool(re.search(r"\bPTX\b", line)) or (device is None and any(re.search(r"\bPTX\b", l) for l in tornado_lines))
        for step in ([None, "2"] if ptx else [None, "4"]):
            key = f"device {device}" + (f", {step} k a pass" if step else "")
            say(f"== the {PRODUCTS_CONFIG} config's Linear products" + (f" on device {device}" if device is not None else "")
                + (f", -Dgpt.tornado.wideKStep={step}" if step else ""))
            pjs = os.path.join(OUT, f"products-{PRODUCTS_CONFIG}" + (f"-device{device}" if device else "")
                               + (f"-k{step}" if step else "") + ".json")
            cmd = [GPT, "bench", "--products", "--profile", "--config", PRODUCTS_CONFIG, "--backend", "tornado",
                   "--iters", "10", "--warmup", "3", "--json", pjs, "--force"]
            if device is not None:
                cmd += ["--device", device]
            env = {"JAVA_OPTS": (os.environ.get("JAVA_OPTS", "") + f" -Dgpt.tornado.wideKStep={step}").strip()} if step else None
            rc, out, _ = run(cmd, 300, env=env)
            if rc == 0 and os.path.exists(pjs):
                b = json.load(open(pjs))["backends"][0]
                products[key] = b["products"]
                # cuBLAS on the same buffers, where the device's route offers it (TornadoVM's CUDA backend)
                for lib, rows in (b.get("product_libraries") or {}).items():
                    products[f"{key}, {lib}"] = rows
                for lib, why in (b.get("product_libraries_not_timed") or {}).items():
                    products[f"{key}, {lib}"] = {"error": why}
                say(f"   on {b['device']}")
            else:
                products[key] = {"error": out.strip()[-500:]}
report["products"] = products

# ------------------------------------------------------------------ the launch plan of the lecture step
report["plan"] = {}
if "plan" in PARTS:
    say("== launch plan of the lecture step" + ("" if QUICK else ", with each kernel's time"))
    pjs = os.path.join(OUT, "plan-lecture.json")
    cmd = [GPT, "bench", "--config", "lecture", "--backend", "tornado", "--plan", "--json", pjs, "--force"]
    if not QUICK:
        cmd += ["--profile", "--iters", "5", "--warmup", "2"]
    rc, out, _ = run(cmd, 300)
    open(os.path.join(OUT, "plan-lecture.txt"), "w").write(out)
    verdict = [l for l in out.splitlines() if l.startswith("every launch over")]
    report["plan"] = {"exit": rc, "verdict": verdict[-1] if verdict else None}
    if rc == 0 and os.path.exists(pjs):
        b = json.load(open(pjs))["backends"][0]
        report["plan"]["problems"] = b["plan"]["problems"]
        report["plan"]["ms_per_step_by_kernel"] = b["plan"].get("ms_per_step_by_kernel")
        report["plan"]["ms_per_step_by_stage"] = b["plan"].get("ms_per_step_by_stage")

# ------------------------------------------------------------------ 1000 lecture iterations on the device
lecture = {}
if not QUICK and "lecture" in PARTS:
    say("== 1000 iterations of the lecture config on the tornado backend")
    with tempfile.TemporaryDirectory() as tmp:
        rc, out, secs = run([GPT, "train", "--config", "lecture", "--backend", "tornado", "--iters", "1000",
                             "--eval-interval", "500", "--eval-iters", "50", "--sample-tokens", "200",
                             "--out", os.path.join(tmp, "lecture.safetensors")], 600)
    losses = {int(m.group(1)): [float(m.group(2)), float(m.group(3))] for m in
              re.finditer(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)$", out, re.M)}
    timing = re.search(r"trained \d+ iterations in ([\d.]+) s \(([\d.]+) ms/iteration", out)
    lecture = {"exit": rc, "losses": losses, "seconds": round(secs, 1),
               "ms_per_iteration": float(timing.group(2)) if timing else None}
report["train_lecture"] = lecture

# ------------------------------------------------------------------ a training run on the device
train = {}
steps = "300" if not QUICK else "60"
if "train" in PARTS:
    say("== 300 iterations of the small config: tornado next to cpu")
with tempfile.TemporaryDirectory() as tmp:
    for be in ["tornado", "cpu"] if "train" in PARTS else []:
        rc, out, secs = run([GPT, "train", "--backend", be, "--iters", steps, "--eval-interval", "100" if not QUICK else "20",
                             "--eval-iters", "20", "--sample-tokens", "200", "--out", os.path.join(tmp, be + ".safetensors")], 400)
        losses = {int(m.group(1)): [float(m.group(2)), float(m.group(3))] for m in
                  re.finditer(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)$", out, re.M)}
        timing = re.search(r"trained \d+ iterations in ([\d.]+) s \(([\d.]+) ms/iteration", out)
        train[be] = {"exit": rc, "losses": losses, "seconds": round(secs, 1),
                     "ms_per_iteration": float(timing.group(2)) if timing else None}
both = sorted(set(train["tornado"]["losses"]) & set(train["cpu"]["losses"])) if train else []
if train:
    train["largest_val_gap"] = round(max((abs(train["tornado"]["losses"][s][1] - train["cpu"]["losses"][s][1]) for s in both),
                                   default=-1), 5)
report["train"] = train

report["seconds"] = round(time.time() - START, 1)

# ------------------------------------------------------------------ the report
json.dump(report, open(os.path.join(OUT, "report.json"), "w"), indent=1)
md = [f"# gpt GPU check ({report['started']}, {report['seconds']} s{', --quick' if QUICK else ''})", "",
      f"- GPU: {probe['nvidia_smi'] or 'none found by nvidia-smi'}; NVIDIA OpenCL library found: {probe['nvidia_opencl']}",
      f"- TornadoVM devices: {'; '.join(tornado_lines) or 'none'}", f"- CPU cores: {probe['cores']}",
      f"- PyTorch: {report['torch']['version']}", "", "## gpt verify (tornado)", "", "| file | result |", "|---|---|"]
md += [f"| {f} | {v['result']} |" for f, v in verify.items()]
md += ["", "## Training step, ms (median)", "", "| config | cpu (all cores) | tornado | PyTorch fp32 | PyTorch tf32 | PyTorch bf16 "
       "| PyTorch fp32, torch.compile |", "|---|---|---|---|---|---|---|"]
for cfg in configs:
    b = bench.get(cfg, {})
    def ms(name):
        return f"{b[name]['ms_median']:.2f}" if name in b else "-"
    def tms(prec):
        t = torch.get(f"{cfg}/{prec}", {})
        v = t.get("ms_per_step", {}).get("median") if isinstance(t.get("ms_per_step"), dict) else t.get("ms_per_step")
        return f"{v:.2f}" if isinstance(v, (int, float)) else "-"
    md.append(f"| {cfg} | {ms('cpu')} | {ms('tornado')} | {tms('fp32')} | {tms('tf32')} | {tms('bf16')} | {tms('fp32-compile')} |")
md += ["", f"PyTorch ran on {'the GPU (cuda)' if cuda else 'this CPU'}."]
if step_runs:
    md += ["", "## The tornado step on each GPU device (TornadoVM's numbers), ms (median; "
           "first: the training program's first run, compiling, in s)", "",
           "| device | verify ref_small | small | lecture | small, graphs off | lecture, graphs off | lecture, products on "
           "cuBLAS |", "|---|---|---|---|---|---|---|"]
    for key, row in step_runs.items():
        def cell(cfg):
            r = row.get(cfg, {})
            if not r:
                return "-"
            if "ms_median" not in r:
                return "failed: " + r.get("error", "")[-150:]
            first = f", first {r['first_run_s']:.1f} s" if "first_run_s" in r else ""
            return f"{r['ms_median']:.2f} (min {r['ms_min']:.2f}{first})"
        md.append(f"| {key} | {row['verify'][-80:]} | {cell('small')} | {cell('lecture')} | {cell('small graphs off')} "
                  f"| {cell('lecture graphs off')} | {cell('lecture cublas')} |")
    seen = sorted({k + ": " + r[c]["device"] for k, r in step_runs.items() for c in r if c != "verify"
                   if "device" in r.get(c, {})})
    md += ["", "Devices: " + "; ".join(seen)]
if products:
    layers = [r["layer"] for r in next((v for v in products.values() if isinstance(v, list)), [])]
    md += ["", f"## The {PRODUCTS_CONFIG} config's Linear products, ms forward / backward (GFLOP/s)", "",
           "| device | " + " | ".join(layers) + " |", "|---|" + "---|" * len(layers)]
    for device, rows in products.items():
        if isinstance(rows, list):
            md.append(f"| {device} | " + " | ".join(f"{r['forward_ms']:.3f} / {r['backward_ms']:.3f} "
                                                    f"({r['forward_gflops']:.0f} / {r['backward_gflops']:.0f})" for r in rows) + " |")
        else:
            md.append(f"| {device} | failed: {rows.get('error', '')[-200:]} |")
if train:
    md += ["", f"## Training, small config, {steps} iterations", "", "| step | tornado train / val | cpu train / val |",
           "|---|---|---|"]
    for s in both:
        t, c = train["tornado"]["losses"][s], train["cpu"]["losses"][s]
        md.append(f"| {s} | {t[0]:.4f} / {t[1]:.4f} | {c[0]:.4f} / {c[1]:.4f} |")
    md += ["", f"Largest val-loss gap: {train['largest_val_gap']}; ms/iteration: tornado {train['tornado']['ms_per_iteration']},"
               f" cpu {train['cpu']['ms_per_iteration']}."]
if report["plan"]:
    md += ["", "## Launch plan of the lecture step (plan-lecture.txt)", "", f"- {report['plan']['verdict']}"]
md += [f"- {p}" for p in report["plan"].get("problems") or []]
times = report["plan"].get("ms_per_step_by_kernel") or {}
if times:
    md += ["", "| kernel | ms/step |", "|---|---|"] + [f"| {k} | {v:.3f} |" for k, v in list(times.items())[:12]]
    md += ["", f"Sum of the kernels' times: {sum(times.values()):.3f} ms/step."]
stages = report["plan"].get("ms_per_step_by_stage") or {}
if stages:
    md += ["", "Where the step goes (after each graph's first run):", "", "| stage | ms/step |", "|---|---|"]
    md += [f"| {k} | {v:.3f} |" for k, v in stages.items()]
if lecture:
    last = max(lecture["losses"]) if lecture["losses"] else None
    md += ["", "## Training, lecture config, 1000 iterations (tornado)", "",
           f"exit {lecture['exit']}, {lecture['seconds']} s, {lecture['ms_per_iteration']} ms/iteration; "
           + (f"step {last}: train {lecture['losses'][last][0]:.4f}, val {lecture['losses'][last][1]:.4f}" if last is not None
              else "no losses")]
open(os.path.join(OUT, "report.md"), "w").write("\n".join(md) + "\n")
say("\n".join(md))
say(f"report: {OUT}/report.md, report.json, log.txt")
