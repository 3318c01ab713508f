#!/usr/bin/python3
"""PyTorch side of the GD-step race (bench/run.sh starts it from bench/step).

The same model as layers/doc.go in its default variant (all-token queries,
scale 1/sqrt(H), U and W trained), float64, full batch:

    Phi(X) = H^-1/2 sum_h < U_h , softmax_rows(X W_h X^T) X >
    F = mean_i log(1 + exp(-y_i Phi(X_i))),   theta <- theta - eta grad F

written the fast way for PyTorch: one (n*T x d)(d x H*d) product for every
head's queries, then batched products per sequence, in the (T*H, d) row
order the Go graph uses. Data and parameters come from the .npy files the Go
side wrote, so both start from the same values.

Protocol (one command per line on stdin, one JSON answer per line):
    step K      -> {"seconds": wall time of K GD steps}
    check L     -> {"torch": F after 10 steps from the initial parameters,
                    "go": L, "rel": relative difference}
    gemm        -> {"gflops": rate of a 1024^3 float64 matmul (OpenBLAS)}
    quit
"""
import json
import math
import sys
import time

try:
    import numpy as np
    import torch
except ImportError as err:  # run.sh reports this and races Go alone
    print(json.dumps({"error": "PyTorch missing: %s (bench/setup.sh installs python3-torch)" % err}), flush=True)
    sys.exit(3)


def main():
    d = sys.argv[1]
    threads = int(sys.argv[2])
    eta = float(sys.argv[3])
    torch.set_num_threads(threads)
    X = torch.from_numpy(np.load(d + "/X.npy"))
    y = torch.from_numpy(np.load(d + "/y.npy"))
    U0 = torch.from_numpy(np.load(d + "/U.npy"))  # H x T x d
    W0 = torch.from_numpy(np.load(d + "/W.npy"))  # H x d x d
    n, T, dim = X.shape
    H = W0.shape[0]
    scale = 1 / math.sqrt(H)
    Xflat = X.reshape(n * T, dim)
    Xt = X.transpose(1, 2)

    def params():
        # Packed like the Go graph: W as d x (H*d), U as (T*H) x d.
        W = W0.permute(1, 0, 2).reshape(dim, H * dim).clone().requires_grad_()
        U = U0.permute(1, 0, 2).reshape(T * H, dim).clone().requires_grad_()
        return W, U

    def step(W, U):
        Q = (Xflat @ W).reshape(n, T * H, dim)          # row r*H+h: x_r^T W_h
        A = torch.softmax(torch.bmm(Q, Xt), dim=-1)     # n x T*H x T, per-row max shift
        mixed = torch.bmm(A, X)                         # n x T*H x d
        phi = scale * (mixed * U).sum(dim=(1, 2))
        loss = torch.logaddexp(torch.zeros_like(phi), -y * phi).mean()  # stable log(1+e^-z)
        loss.backward()
        with torch.no_grad():
            W -= eta * W.grad
            U -= eta * U.grad
        W.grad = None
        U.grad = None
        return loss.item()

    def loss_at(W, U):
        with torch.no_grad():
            Q = (Xflat @ W).reshape(n, T * H, dim)
            A = torch.softmax(torch.bmm(Q, Xt), dim=-1)
            phi = scale * (torch.bmm(A, X) * U).sum(dim=(1, 2))
            return torch.logaddexp(torch.zeros_like(phi), -y * phi).mean().item()

    W, U = params()
    step(W, U)  # warm-up
    print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "step":
            k = int(cmd[1])
            t0 = time.perf_counter()
            for _ in range(k):
                step(W, U)
            print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
        elif cmd[0] == "check":
            ours = float(cmd[1])
            Wc, Uc = params()
            for _ in range(10):
                step(Wc, Uc)
            theirs = loss_at(Wc, Uc)
            rel = abs(theirs - ours) / abs(theirs)
            print(json.dumps({"torch": theirs, "go": ours, "rel": rel}), flush=True)
        elif cmd[0] == "gemm":
            a = torch.randn(1024, 1024, dtype=torch.float64)
            b = torch.randn(1024, 1024, dtype=torch.float64)
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                a @ b
                best = min(best, time.perf_counter() - t0)
            print(json.dumps({"gflops": 2 * 1024**3 / best / 1e9}), flush=True)
        elif cmd[0] == "quit":
            return


if __name__ == "__main__":
    main()
