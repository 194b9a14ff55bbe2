"""Streaming vs recompute cost of the knowledge map, measured in one run (for benchmarks and `bench`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from scoligait_edge.kmap.offline import knowledge_map
from scoligait_edge.kmap.streaming import StreamingKnowledgeMap
from scoligait_edge.kmap.testing import toy_walk


@dataclass(frozen=True)
class StreamingSpeedup:
    """Best-of-rounds seconds: one offline map of a ``window``-frame clip vs one amortized push."""

    window: int
    hop: int
    offline_window_s: float  # knowledge_map(pose[window]) — what a non-incremental stream pays per frame
    push_per_frame_s: float  # StreamingKnowledgeMap.push, emission every hop frames included

    @property
    def ratio(self) -> float:
        return self.offline_window_s / self.push_per_frame_s

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "ratio": self.ratio}


def _best(fn: Callable[[], object], repeats: int, rounds: int, clock: Callable[[], float]) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = clock()
        for _ in range(repeats):
            fn()
        best = min(best, (clock() - t0) / repeats)
    return best


def streaming_speedup(
    window: int = 96,
    hop: int = 16,
    rounds: int = 7,
    pose: np.ndarray | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> StreamingSpeedup:
    """Measure both costs interleaved (round by round) so machine load hits them alike."""
    pose = toy_walk(window + 64 * hop, seed=0, missing=0.02) if pose is None else pose
    clip = pose[:window]
    stream = StreamingKnowledgeMap(window=window, hop=hop)
    for frame in pose[:window]:
        stream.push(frame)
    frames = iter(np.resize(np.arange(window, len(pose)), 10**7).tolist())

    def one_hop() -> None:
        for _ in range(hop):
            stream.push(pose[next(frames)])

    offline, push = float("inf"), float("inf")
    for _ in range(rounds):
        offline = min(offline, _best(lambda: knowledge_map(clip), 20, 1, clock))
        push = min(push, _best(one_hop, 8, 1, clock) / hop)
    return StreamingSpeedup(window, hop, offline, push)
