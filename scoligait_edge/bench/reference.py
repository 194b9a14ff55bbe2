"""Reference workloads: fixed computations every row's latency is divided by, in the same run.

The gate compares ``row latency / reference latency`` with the baseline's ratio, never raw
times, so a slower or busier machine moves both and cancels out. A good reference is
(1) independent of the project's code, so a regression cannot hide inside it,
(2) deterministic, and (3) sensitive to the same things the rows are (core frequency,
time-slicing by other processes, cache pressure). ``mlp`` — a batch-1 transformer-sized
chain of small GEMMs and element-wise ops in PyTorch, honouring the thread setting — is the
default; ``docs/bench.md`` records how its ratio scatter compares with the alternatives.
"""

from __future__ import annotations

from collections.abc import Callable

from scoligait_edge.errors import ScoliGaitError

REFERENCES: dict[str, str] = {
    "mlp": "torch fp32 MLP on a [96,238] window: 238→128→GELU→128→LayerNorm→128→1, 4 blocks (batch 1)",
    "matmul": "torch fp32 matmul 256×256 @ 256×256",
    "numpy": "numpy fp32 matmul 192×192 @ 192×192 (BLAS, thread-limited)",
}
DEFAULT_REFERENCE = "mlp"


def reference_workload(name: str = DEFAULT_REFERENCE) -> tuple[Callable[[], object], str]:
    """The zero-argument workload called ``name`` and its one-line description."""
    if name not in REFERENCES:
        raise ScoliGaitError(
            f"unknown reference workload {name!r}", f"choose one of: {', '.join(REFERENCES)}"
        )
    if name == "numpy":
        import numpy as np

        rng = np.random.default_rng(0)
        a = rng.standard_normal((192, 192), dtype=np.float32)
        b = rng.standard_normal((192, 192), dtype=np.float32)
        return (lambda: a @ b), REFERENCES[name]

    import torch

    g = torch.Generator().manual_seed(0)
    if name == "matmul":
        a = torch.randn(256, 256, generator=g)
        b = torch.randn(256, 256, generator=g)
        out = torch.empty(256, 256)

        def mm() -> object:
            return torch.mm(a, b, out=out)

        return mm, REFERENCES[name]

    x = torch.randn(1, 96, 238, generator=g)
    w_in = torch.randn(238, 128, generator=g) * 0.05
    blocks = [
        (torch.randn(128, 128, generator=g) * 0.05, torch.randn(128, 128, generator=g) * 0.05)
        for _ in range(4)
    ]
    w_out = torch.randn(128, 1, generator=g) * 0.05

    def mlp() -> object:
        with torch.inference_mode():
            h = x @ w_in
            for w1, w2 in blocks:
                h = h + torch.nn.functional.gelu(h @ w1) @ w2
                h = torch.nn.functional.layer_norm(h, (128,))
            return (h.mean(dim=1) @ w_out).sigmoid()

    return mlp, REFERENCES[name]
