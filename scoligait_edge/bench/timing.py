"""Latency measurement done right: warm-up, interleaved rounds, adaptive repetitions, thread control.

Every timed workload is a zero-argument callable. Workloads that are compared with each
other (the rows of one table, and the reference workload their ratios are taken against)
are timed *interleaved*: each round runs every workload a few times in a freshly shuffled
order, so a burst of load from another process hits all of them alike instead of one row.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

Workload = Callable[[], object]


@dataclass(frozen=True)
class TimingConfig:
    """How hard to try for a stable median."""

    warmup: int = 5  #: untimed calls per workload before the first round
    min_rounds: int = 5  #: interleaved rounds, at least
    max_rounds: int = 60  #: interleaved rounds, at most
    reps_per_round: int = 20  #: timed calls per workload per round, at most…
    slice_s: float = 0.01  #: …aiming for about this much time per workload per round
    min_time_s: float = 0.3  #: keep going until each workload has been timed this long…
    max_time_s: float = 6.0  #: …but stop a thread setting after this much wall time
    target_rel_ci: float = 0.02  #: stop once every median's 95 % CI half-width is below this fraction
    seed: int = 0

    @classmethod
    def quick(cls) -> TimingConfig:
        """The fast configuration used by CI's gate (a few seconds per thread setting)."""
        return cls(warmup=3, min_rounds=8, max_rounds=40, reps_per_round=10, min_time_s=0.1, max_time_s=2.5)


@dataclass
class Timing:
    """Samples (seconds) of one workload plus its per-round medians."""

    samples: list[float] = field(default_factory=list)
    round_medians: list[float] = field(default_factory=list)

    @property
    def reps(self) -> int:
        return len(self.samples)

    @property
    def median_s(self) -> float:
        return float(np.median(self.samples)) if self.samples else math.nan

    @property
    def p90_s(self) -> float:
        return float(np.percentile(self.samples, 90)) if self.samples else math.nan

    @property
    def mean_s(self) -> float:
        return float(np.mean(self.samples)) if self.samples else math.nan

    def median_ci(self, level: float = 0.95) -> tuple[float, float]:
        """Distribution-free CI of the median from order statistics (normal approximation)."""
        n = len(self.samples)
        if n < 3:
            return (math.nan, math.nan)
        s = sorted(self.samples)
        z = 1.959963984540054 if level == 0.95 else _z(level)
        half = z * math.sqrt(n) / 2
        lo = max(0, math.floor(n / 2 - half))
        hi = min(n - 1, math.ceil(n / 2 + half))
        return (s[lo], s[hi])

    def rel_ci_halfwidth(self) -> float:
        lo, hi = self.median_ci()
        med = self.median_s
        if not (med > 0) or math.isnan(lo):
            return math.inf
        return (hi - lo) / 2 / med

    def summary(self) -> dict[str, float | int]:
        return {
            "median_ms": self.median_s * 1e3,
            "p90_ms": self.p90_s * 1e3,
            "mean_ms": self.mean_s * 1e3,
            "reps": self.reps,
            "rounds": len(self.round_medians),
            "ci95_rel": self.rel_ci_halfwidth(),
        }


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def time_interleaved(
    workloads: Mapping[str, Workload],
    config: TimingConfig = TimingConfig(),
    on_round: Callable[[int], None] | None = None,
) -> dict[str, Timing]:
    """Time several workloads in interleaved, shuffled rounds until every median is stable.

    A workload that raises is not caught here: callers check each workload once before
    timing (see ``suite``), so an exception is a real failure.
    """
    names = list(workloads)
    out = {n: Timing() for n in names}
    if not names:
        return out
    clock = time.perf_counter
    reps: dict[str, int] = {}
    for name in names:
        fn = workloads[name]
        est = []
        for _ in range(max(1, config.warmup)):
            t0 = clock()
            fn()
            est.append(clock() - t0)
        # Fixed reps per workload for the whole run, so every round's median means the same thing.
        per_call = float(np.median(est[len(est) // 2 :]))
        reps[name] = int(min(config.reps_per_round, max(1, math.ceil(config.slice_s / max(per_call, 1e-7)))))
    rng = random.Random(config.seed)
    start = clock()
    rounds = 0
    while True:
        order = names[:]
        rng.shuffle(order)
        for name in order:
            fn = workloads[name]
            fn()  # one untimed call: the workload before it may have evicted this one's caches
            batch = []
            for _ in range(reps[name]):
                t0 = clock()
                fn()
                batch.append(clock() - t0)
            out[name].samples.extend(batch)
            out[name].round_medians.append(float(np.median(batch)))
        rounds += 1
        if on_round is not None:
            on_round(rounds)
        elapsed = clock() - start
        if rounds >= config.max_rounds or elapsed >= config.max_time_s:
            break
        if rounds < config.min_rounds:
            continue
        timed_enough = all(sum(t.samples) >= config.min_time_s for t in out.values())
        stable = all(t.rel_ci_halfwidth() <= config.target_rel_ci for t in out.values())
        if timed_enough and stable:
            break
    return out


def time_one(fn: Workload, config: TimingConfig = TimingConfig()) -> Timing:
    """Time a single workload (no comparison partner, so nothing to interleave with)."""
    return time_interleaved({"_": fn}, config)["_"]


#: Quantile the gate's latency ratios use. Interference from other processes only ever *adds*
#: time, so a low quantile estimates the uncontended cost: on the shared 2-core CI box the p10
#: ratio scattered ~3× less between reruns than the median ratio (docs/bench.md).
RATIO_QUANTILE = 0.10


def quantile_ratio(num: Timing, den: Timing, q: float = RATIO_QUANTILE) -> float:
    """``quantile_q(num samples) / quantile_q(den samples)`` from one interleaved run."""
    if not num.samples or not den.samples:
        return math.nan
    d = float(np.quantile(den.samples, q))
    return float(np.quantile(num.samples, q)) / d if d > 0 else math.nan


def paired_ratio(num: Timing, den: Timing) -> float:
    """Median over rounds of (numerator round median / denominator round median).

    Both timings must come from the same interleaved run: each round's pair was measured
    seconds apart under the same machine load, so the ratio cancels the load out.
    """
    k = min(len(num.round_medians), len(den.round_medians))
    if k == 0:
        return math.nan
    r = [a / b for a, b in zip(num.round_medians[:k], den.round_medians[:k], strict=True) if b > 0]
    return float(np.median(r)) if r else math.nan


# ---------------------------------------------------------------------------------- threads


def all_threads() -> int:
    """Threads "all" means: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def parse_threads(spec: str) -> list[int]:
    """``"1,all"`` → ``[1, N]`` (deduplicated, order kept)."""
    from scoligait_edge.errors import ScoliGaitError

    out: list[int] = []
    for part in (p.strip().lower() for p in spec.split(",")):
        if not part:
            continue
        if part == "all":
            n = all_threads()
        else:
            try:
                n = int(part)
            except ValueError:
                raise ScoliGaitError(
                    f"bad --threads entry {part!r}", "use positive integers or 'all', e.g. --threads 1,all"
                ) from None
            if n < 1:
                raise ScoliGaitError(f"bad --threads entry {part!r}", "thread counts must be ≥ 1")
        if n not in out:
            out.append(n)
    if not out:
        raise ScoliGaitError("empty --threads", "give e.g. --threads 1,all")
    return out


@contextlib.contextmanager
def thread_limit(n: int) -> Iterator[dict[str, int]]:
    """Limit every in-process thread pool we control to ``n`` threads for the block.

    Covers BLAS/OpenMP pools (threadpoolctl) and PyTorch's intra-op pool. ONNX Runtime and
    OpenVINO take their thread count when a session/compiled model is created, so runners
    are loaded per thread setting (``suite``) rather than limited here.
    Yields the settings actually in force, for the report.
    """
    from threadpoolctl import threadpool_limits

    try:
        import torch as import_torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        import_torch = None
    prev_torch = import_torch.get_num_threads() if import_torch else None
    with threadpool_limits(limits=n):
        if import_torch:
            import_torch.set_num_threads(n)
        try:
            yield {"threads": n, "torch": import_torch.get_num_threads() if import_torch else -1}
        finally:
            if import_torch and prev_torch:
                import_torch.set_num_threads(prev_torch)
