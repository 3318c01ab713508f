#!/usr/bin/python3
"""PyTorch side of the spectrum-instrument race (bench/spectrum starts it).

The model of bench/torch_step.py (all-token queries, scale 1/sqrt(H), U and
W trained, float64, full batch), its parameters U (H x T x d) and W
(H x d x d) as the leaves, theta = [U.flatten(), W.flatten()] as in the Go
trainable-vector layout. Each instrument does what theory/spectrum does,
the PyTorch way:

  HVP      PyHessian's: grads = autograd.grad(F, theta, create_graph=True)
           once per instrument call, then each product is one double
           backward autograd.grad(grads, theta, v, retain_graph=True).
  extremes Lanczos, k, iterations steps, full reorthogonalization (two
           classical Gram-Schmidt passes as matrix-vector products), Ritz
           vectors and one product each for their residuals (2k).
  trace    Hutchinson, probes Rademacher vectors.
  slq      starts Rademacher starts x iterations Lanczos steps, nodes and
           weights from torch.linalg.eigh, density on a 512-point grid.
  gram     labelled NTK Gram from per-sample gradients by functorch
           vmap(grad(phi)) in blocks of `block` samples, the same schedule
           as spectrum.Gram (1 + nb(nb-1)/2 block writes, at most two
           blocks held).

Protocol (one command per line on stdin, one JSON answer per line):
    check          -> relative differences to the Go side's loss, HVP
                      (v.npy -> hv.npy) and Gram (K.npy)
    extremes K M   -> {"seconds", "top", "bottom"}
    trace P        -> {"seconds", "trace"}
    slq S M        -> {"seconds"}
    gram B         -> {"seconds"}
    quit
"""
import json
import math
import sys
import time

try:
    import numpy as np
    import torch
    from functorch import grad as fgrad, vmap
except ImportError as err:
    print(json.dumps({"error": "PyTorch missing: %s (bench/setup.sh installs python3-torch)" % err}), flush=True)
    sys.exit(3)


def main():
    d = sys.argv[1]
    threads = int(sys.argv[2])
    torch.set_num_threads(threads)
    X = torch.from_numpy(np.load(d + "/X.npy"))
    y = torch.from_numpy(np.load(d + "/y.npy"))
    U = torch.from_numpy(np.load(d + "/U.npy")).clone().requires_grad_()  # H x T x d
    W = torch.from_numpy(np.load(d + "/W.npy")).clone().requires_grad_()  # H x d x d
    n, T, dim = X.shape
    H = W.shape[0]
    scale = 1 / math.sqrt(H)
    Xflat = X.reshape(n * T, dim)
    Xt = X.transpose(1, 2)
    P = U.numel() + W.numel()
    gen = torch.Generator().manual_seed(1)

    def loss(U, W):
        Wp = W.permute(1, 0, 2).reshape(dim, H * dim)
        Up = U.permute(1, 0, 2).reshape(T * H, dim)
        Q = (Xflat @ Wp).reshape(n, T * H, dim)
        A = torch.softmax(torch.bmm(Q, Xt), dim=-1)
        phi = scale * (torch.bmm(A, X) * Up).sum(dim=(1, 2))
        return torch.logaddexp(torch.zeros_like(phi), -y * phi).mean()

    def phi_one(U, W, x):
        Wp = W.permute(1, 0, 2).reshape(dim, H * dim)
        Up = U.permute(1, 0, 2).reshape(T * H, dim)
        A = torch.softmax((x @ Wp).reshape(T * H, dim) @ x.T, dim=-1)
        return scale * ((A @ x) * Up).sum()

    per_sample = vmap(fgrad(phi_one, argnums=(0, 1)), in_dims=(None, None, 0))

    def hvp_maker():
        gU, gW = torch.autograd.grad(loss(U, W), (U, W), create_graph=True)

        def hvp(v):
            vU = v[: U.numel()].view_as(U)
            vW = v[U.numel():].view_as(W)
            hU, hW = torch.autograd.grad((gU, gW), (U, W), grad_outputs=(vU, vW), retain_graph=True)
            return torch.cat([hU.reshape(-1), hW.reshape(-1)])
        return hvp

    def rademacher():
        return torch.randint(0, 2, (P,), generator=gen, dtype=torch.float64) * 2 - 1

    def lanczos(hvp, v0, m):
        Q = torch.zeros(m, P, dtype=torch.float64)
        Q[0] = v0 / v0.norm()
        alpha, beta = [], []
        for j in range(m):
            w = hvp(Q[j])
            alpha.append(torch.dot(w, Q[j]).item())
            B = Q[: j + 1]
            for _ in range(2):
                w -= B.T @ (B @ w)
            b = w.norm().item()
            beta.append(b)
            if j == m - 1 or b < 1e-10:
                break
            Q[j + 1] = w / b
        k = len(alpha)
        Tm = torch.diag(torch.tensor(alpha, dtype=torch.float64))
        if k > 1:
            off = torch.tensor(beta[: k - 1], dtype=torch.float64)
            Tm += torch.diag(off, 1) + torch.diag(off, -1)
        vals, vecs = torch.linalg.eigh(Tm)
        return Q[:k], vals, vecs

    def extremes(k, m):
        hvp = hvp_maker()
        v0 = torch.randn(P, generator=gen, dtype=torch.float64)
        Q, vals, vecs = lanczos(hvp, v0, m)
        out = []
        for i in list(range(len(vals) - 1, len(vals) - 1 - k, -1)) + list(range(k)):
            yv = Q.T @ vecs[:, i]
            yv /= yv.norm()
            r = (hvp(yv) - vals[i] * yv).norm().item()
            out.append((vals[i].item(), r))
        return out[:k], out[k:]

    def trace(probes):
        hvp = hvp_maker()
        s = []
        for _ in range(probes):
            z = rademacher()
            s.append(torch.dot(z, hvp(z)).item())
        return sum(s) / len(s)

    def slq(starts, m):
        hvp = hvp_maker()
        nodes, weights = [], []
        for _ in range(starts):
            _, vals, vecs = lanczos(hvp, rademacher(), m)
            nodes.append(vals)
            weights.append(vecs[0] ** 2)
        nodes, weights = torch.cat(nodes), torch.cat(weights)
        sigma = 1e-3
        grid = torch.linspace(nodes.min().item() - 6 * sigma, nodes.max().item() + 6 * sigma, 512, dtype=torch.float64)
        z = (grid[:, None] - nodes[None, :]) / sigma
        dens = P / starts * (weights[None, :] * torch.exp(-0.5 * z * z)).sum(1) / (sigma * math.sqrt(2 * math.pi))
        return dens

    def block_grads(i0, i1):
        gU, gW = per_sample(U.detach(), W.detach(), X[i0:i1])
        return torch.cat([gU.reshape(i1 - i0, -1), gW.reshape(i1 - i0, -1)], dim=1)

    def gram(block):
        # spectrum.Gram's schedule: block 0 stays while 1..nb-1 visit (their
        # diagonal blocks then), the last visitor stays while 1..a-1 visit,
        # and so on; 1 + nb(nb-1)/2 block writes, two blocks held.
        K = torch.zeros(n, n, dtype=torch.float64)
        nb = (n + block - 1) // block
        rng = lambda b: slice(b * block, min((b + 1) * block, n))

        def pair(i, j, Gi, Gj):
            K[rng(i), rng(j)] = Gi @ Gj.T
            if i != j:
                K[rng(j), rng(i)] = K[rng(i), rng(j)].T

        with torch.no_grad():
            a, A = 0, block_grads(0, min(block, n))
            pair(0, 0, A, A)
            first = True
            while True:
                last = nb - 1 if first else a - 1
                if last < 1:
                    break
                for b in range(1, last + 1):
                    rb = rng(b)
                    B = block_grads(rb.start, rb.stop)
                    pair(b, a, B, A)
                    if first:
                        pair(b, b, B, B)
                a, A, first = last, B, False
        return K * y[:, None] * y[None, :]

    print(json.dumps({"ready": True, "threads": torch.get_num_threads(), "torch": torch.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        t0 = time.perf_counter()
        if cmd[0] == "check":
            ours = json.loads(open(d + "/check.json").read())
            v = torch.from_numpy(np.load(d + "/v.npy"))
            hv = torch.from_numpy(np.load(d + "/hv.npy"))
            theirs = hvp_maker()(v)
            K = torch.from_numpy(np.load(d + "/K.npy"))
            Kt = gram(ours["block"])
            F = loss(U, W).item()
            print(json.dumps({
                "loss": abs(F - ours["loss"]) / abs(F),
                "hvp": ((theirs - hv).norm() / theirs.norm()).item(),
                "gram": ((Kt - K).abs().max() / Kt.abs().max()).item(),
            }), flush=True)
        elif cmd[0] == "extremes":
            top, bottom = extremes(int(cmd[1]), int(cmd[2]))
            print(json.dumps({"seconds": time.perf_counter() - t0, "top": top, "bottom": bottom}), flush=True)
        elif cmd[0] == "trace":
            tr = trace(int(cmd[1]))
            print(json.dumps({"seconds": time.perf_counter() - t0, "trace": tr}), flush=True)
        elif cmd[0] == "slq":
            slq(int(cmd[1]), int(cmd[2]))
            print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
        elif cmd[0] == "gram":
            gram(int(cmd[1]))
            print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
        elif cmd[0] == "quit":
            return


if __name__ == "__main__":
    main()
