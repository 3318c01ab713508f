#!/usr/bin/python3
"""PyTorch side of the head-sweep race (bench/headsweep starts it).

Reads a finished head sweep's result directory (written by
experiments/headsweep) and runs the same sweep in PyTorch: for every point,
the same data (data/<hash>/*.npy), theta_0 (params/<point>/init/*.npy), step
size eta and step count K (points/<point>/result.json and config.json), and
the same work at every logged step k (every log_every steps, and K): train
loss, 0-1 error and gradient norm from the step's own forward pass; test
loss, test error and relevant attention from a forward pass on the test
set; ||theta_k - theta_0||. The model is the paper's (layers/doc.go),
float64, full batch, with the query/scale/train choices of the point:

    Phi(X) = s_H sum_h < U_h , softmax_rows(X_q W_h X^T) X >
    F = mean_i log(1 + exp(-y_i Phi(X_i))),   theta <- theta - eta grad F

Points run on PROCS worker processes (one after another when PROCS = 1),
each with torch.set_num_threads(THREADS), as our runner shares the cores
between workers and a step's threads. Prints one JSON line per point and
one for the whole sweep: {"training_seconds": wall time from the first
point's start to the last point's end, data loading excluded, ...}.

Usage: torch_headsweep.py RESULT_DIR THREADS [PROCS]
"""
import glob
import multiprocessing
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as err:
    print(json.dumps({"error": "PyTorch missing: %s (bench/setup.sh installs python3-torch)" % err}), flush=True)
    sys.exit(3)


def load(path):
    return torch.from_numpy(np.load(path))


_cache = {}


def init_worker(threads):
    torch.set_num_threads(threads)


def run_point(args):
    out, pdir = args
    return point(out, pdir, _cache)


def load_data(out, pdir):
    with open(os.path.join(pdir, "result.json")) as f:
        ddir = os.path.join(out, json.load(f)["data"])
    if ddir not in _cache:
        _cache[ddir] = [load(os.path.join(ddir, f)) for f in
                        ("train_X.npy", "train_y.npy", "test_X.npy", "test_y.npy", "test_mask.npy")]


def point(out, pdir, data_cache):
    with open(os.path.join(pdir, "config.json")) as f:
        cfg = json.load(f)["config"]
    with open(os.path.join(pdir, "result.json")) as f:
        res = json.load(f)
    model = cfg["model"]
    if model["kind"] != "paper":
        raise SystemExit("torch_headsweep: model kind %r: only the paper's model is written here" % model["kind"])
    name = os.path.basename(pdir)
    ddir = os.path.join(out, res["data"])
    if ddir not in data_cache:
        data_cache[ddir] = [load(os.path.join(ddir, f)) for f in
                            ("train_X.npy", "train_y.npy", "test_X.npy", "test_y.npy", "test_mask.npy")]
    X, y, Xte, yte, mask = data_cache[ddir]
    mask = mask.to(torch.float64)
    U0 = load(os.path.join(out, "params", name, "init", "U.npy"))  # H x Rows x d
    W0 = load(os.path.join(out, "params", name, "init", "W.npy"))  # H x d x d
    H = W0.shape[0]
    T, dim = X.shape[1], X.shape[2]
    rows = U0.shape[1]
    first = model["query"] == "first-token"
    scale = 1 / math.sqrt(H) if model["scale"] in ("inv-sqrt", "") else 1 / H
    train_u = model["train"] in ("UW", "U", "")
    train_w = model["train"] in ("UW", "W", "")
    eta, steps, every = res["eta"], cfg["steps"], cfg["log_every"]
    max_loss = cfg.get("max_loss") or 1e3

    # Packed like the Go graph: W as d x (H*d), U as (Rows*H) x d.
    W = W0.permute(1, 0, 2).reshape(dim, H * dim).clone().requires_grad_(train_w)
    U = U0.permute(1, 0, 2).reshape(rows * H, dim).clone().requires_grad_(train_u)
    theta0 = torch.cat([U.detach().flatten(), W.detach().flatten()]).clone()

    def forward(Xs, W, U):
        n = Xs.shape[0]
        Xq = Xs[:, :1, :] if first else Xs
        Q = (Xq.reshape(-1, dim) @ W).reshape(n, rows * H, dim)
        A = torch.softmax(torch.bmm(Q, Xs.transpose(1, 2)), dim=-1)   # n x Rows*H x T
        phi = scale * (torch.bmm(A, Xs) * U).sum(dim=(1, 2))
        return phi, A

    def risk(phi, ys):
        return torch.logaddexp(torch.zeros_like(phi), -ys * phi).mean()

    t0 = time.perf_counter()
    status, last = "ok", None
    for k in range(steps + 1):
        phi, _ = forward(X, W, U)
        loss = risk(phi, y)
        wrt = [p for p in (U, W) if p.requires_grad]
        grads = torch.autograd.grad(loss, wrt)
        lv = loss.item()
        if not math.isfinite(lv) or lv > max_loss:
            status = "diverged"
            break
        if k % every == 0 or k == steps:
            with torch.no_grad():
                err = ((y * phi) <= 0).double().mean().item()
                gnorm = math.sqrt(sum((g * g).sum().item() for g in grads))
                phit, At = forward(Xte, W, U)
                tloss = risk(phit, yte).item()
                terr = ((yte * phit) <= 0).double().mean().item()
                mass = (At * mask[:, None, :]).sum().item() / (At.shape[0] * At.shape[1])
                dist = (torch.cat([U.flatten(), W.flatten()]) - theta0).norm().item()
                last = (k, lv, tloss, err, terr, gnorm, dist, mass)
        if k < steps:
            with torch.no_grad():
                for p, g in zip(wrt, grads):
                    p -= eta * g
    seconds = time.perf_counter() - t0
    go = res["train_loss"]
    rel = abs(last[1] - go) / abs(go) if last and go else float("nan")
    return {"point": name, "heads": H, "steps": steps, "status": status, "go_status": res["status"],
            "seconds": seconds, "go_seconds": res["wall_seconds"], "train_loss": last[1] if last else None,
            "go_train_loss": go, "rel": rel}


def main():
    out = sys.argv[1]
    threads = int(sys.argv[2])
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if procs == 1:  # with a pool, only the workers touch OpenMP (fork-safe)
        torch.set_num_threads(threads)
    pdirs = sorted(glob.glob(os.path.join(out, "points", "*")))
    for pdir in pdirs:
        load_data(out, pdir)  # before the clock; forked workers inherit it
    # Dearest (most heads) first, as our runner does.
    def heads(pdir):
        with open(os.path.join(pdir, "config.json")) as f:
            return json.load(f)["config"].get("heads", 0)
    pdirs.sort(key=heads, reverse=True)
    t0 = time.perf_counter()
    if procs > 1:
        with multiprocessing.get_context("fork").Pool(procs, init_worker, (threads,)) as pool:
            results = pool.map(run_point, [(out, p) for p in pdirs], chunksize=1)
    else:
        results = [run_point((out, p)) for p in pdirs]
    wall = time.perf_counter() - t0
    worst = 0.0
    for r in results:
        worst = max(worst, r["rel"]) if r["rel"] == r["rel"] else float("nan")
        print(json.dumps(r), flush=True)
    print(json.dumps({"training_seconds": wall, "threads": threads, "procs": procs,
                      "torch": torch.__version__, "worst_rel": worst}), flush=True)


if __name__ == "__main__":
    main()
