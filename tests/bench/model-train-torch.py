#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The reference for fluff-bench-model: the same head, loss, optimiser, batch
# size and stratified split in PyTorch on the CPU (Debian python3-torch).
# Reads the data fluff-bench-model wrote; prints "epochs best_auc
# seconds_to_within_0.01" on one line.
import struct
import sys
import time

import torch


def auc(scores, labels):
    # tie-aware Mann-Whitney, as daemon/model/metrics.c
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    wins = pos_above = n_pos = n_neg = 0.0
    i = 0
    while i < len(order):
        j, gp, gn = i, 0, 0
        while j < len(order) and scores[order[j]] == scores[order[i]]:
            if labels[order[j]]:
                gp += 1
            else:
                gn += 1
            j += 1
        wins += gn * (pos_above + 0.5 * gp)
        pos_above += gp
        n_pos += gp
        n_neg += gn
        i = j
    return wins / (n_pos * n_neg)


def main():
    path, budget = sys.argv[1], float(sys.argv[2])
    torch.set_num_threads(2)
    torch.manual_seed(1)
    with open(path, "rb") as f:
        n, dim, vocab, nnz = struct.unpack("<4I", f.read(16))
        x = torch.frombuffer(bytearray(f.read(4 * n * dim)), dtype=torch.float32).reshape(n, dim)
        y = torch.frombuffer(bytearray(f.read(n)), dtype=torch.uint8).float()
        offs = torch.frombuffer(bytearray(f.read(4 * (n + 1))), dtype=torch.int32).long()
        tags = torch.frombuffer(bytearray(f.read(4 * nnz)), dtype=torch.int32).long()

    g = torch.Generator().manual_seed(1)
    val = []
    train = []
    for c in (0, 1):
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        nv = max(1, min(len(idx) - 1, round(0.2 * len(idx))))
        val.append(idx[:nv])
        train.append(idx[nv:])
    val = torch.cat(val)
    train = torch.cat(train)
    mean = x[train].mean(0)
    std = x[train].std(0, unbiased=False)
    inv = torch.where(std > 1e-6, 1 / std, torch.zeros_like(std))
    xs = (x - mean) * inv
    pos_weight = torch.tensor([(y[train] == 0).sum().item() / (y[train] == 1).sum().item()])

    offs_l = offs.tolist()
    per_post = [tags[offs_l[i]:offs_l[i + 1]] for i in range(n)]
    lens = torch.tensor([offs_l[i + 1] - offs_l[i] for i in range(n)])

    def bag(index):
        # flatten the chosen posts' tag lists for EmbeddingBag
        o = torch.zeros(len(index), dtype=torch.long)
        o[1:] = lens[index][:-1].cumsum(0)
        return torch.cat([per_post[i] for i in index.tolist()]), o

    emb = torch.nn.EmbeddingBag(vocab, 16, mode="mean")
    torch.nn.init.normal_(emb.weight, std=0.1)
    l1 = torch.nn.Linear(dim + 16, 64)
    l2 = torch.nn.Linear(64, 1)
    decay = [emb.weight, l1.weight, l2.weight]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": [l1.bias, l2.bias], "weight_decay": 0.0}], lr=1e-2,
                            foreach=True)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def forward(index):
        t, o = bag(index)
        h = torch.relu(l1(torch.cat([xs[index], emb(t, o)], 1)))
        return l2(h).flatten()

    t0 = time.monotonic()
    curve = []
    while time.monotonic() - t0 < budget:
        perm = train[torch.randperm(len(train), generator=g)]
        for i in range(0, len(perm) - 63, 64):
            if time.monotonic() - t0 >= budget:
                break
            b = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(forward(b), y[b])
            loss.backward()
            opt.step()
        with torch.no_grad():
            s = forward(val).tolist()
        curve.append((time.monotonic() - t0, auc(s, y[val].tolist())))
    best = max(a for _, a in curve)
    first = next(t for t, a in curve if a >= best - 0.01)
    print(len(curve), best, first)


if __name__ == "__main__":
    main()
