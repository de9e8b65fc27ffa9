"""Predicted multi-node scaling of finetune-mpi's data-parallel training (docs/distributed.md).

Per step each node computes forward + backward on its local batch; the gradients (4 bytes per
parameter) are summed by a ring allreduce: time 2(N-1)/N * bytes / bandwidth + 2(N-1) * latency.
Buckets start during backward, so up to the backward time (taken as 2/3 of a step) of
communication is hidden; the rest adds to the step. Node speed: img/s of one node training alone.
"""
import sys

MODELS = {  # parameters, single-node training img/s (measured: finetune bench, 2 vCPU, batch 16)
    "ResNet50": (25_557_032, 6.2),
    "MobileNetV2": (3_504_872, 7.9),
}
LATENCY = 50e-6  # s per ring step (TCP on a datacentre network)


BUCKET = 25 << 20


def ring(nbytes, nodes, gbit):
    return 2 * (nodes - 1) / nodes * nbytes / (gbit * 1e9 / 8) + 2 * (nodes - 1) * LATENCY


def step(params, node_ips, local_batch, nodes, gbit, node_speedup=1.0):
    """(compute, allreduce, step with overlap, step without overlap) in seconds.

    With overlap, the last bucket (the first layers' gradients, complete only when backward ends)
    is always exposed, and whatever of the rest does not fit in the backward time."""
    compute = local_batch / (node_ips * node_speedup)
    backward = compute * 2 / 3
    nbytes = params * 4
    last = nbytes % BUCKET or BUCKET
    total = ring(nbytes, nodes, gbit)
    exposed = ring(last, nodes, gbit) + max(0.0, total - ring(last, nodes, gbit) - backward)
    return compute, total, compute + exposed, compute + total


def main():
    local_batch = 32
    print(f"local batch {local_batch} per node; global batch = {local_batch} x nodes")
    print("| model | node | nodes | link | global batch | compute s/step | allreduce s | step s | img/s | efficiency | without overlap |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (params, ips) in MODELS.items():
        for label, speedup in [("2 vCPU (this kind)", 1.0), ("32 cores (16x)", 16.0)]:
            for nodes in (8, 64):
                for gbit in (10, 25):
                    c, r, s, plain = step(params, ips, local_batch, nodes, gbit, speedup)
                    rate = nodes * local_batch / s
                    eff = rate / (nodes * ips * speedup)
                    print(f"| {name} | {label} | {nodes} | {gbit} Gb/s | {nodes * local_batch} | {c:.2f} | {r:.3f} | {s:.2f} | "
                          f"{rate:.0f} | {eff:.1%} | {c / plain:.1%} |")


if __name__ == "__main__":
    sys.exit(main())
