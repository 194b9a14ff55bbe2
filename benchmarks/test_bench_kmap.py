"""Knowledge map: streaming cost per pushed frame vs recomputing the offline map of a window.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_kmap.py``. A non-incremental stream
would recompute ``knowledge_map`` over the last 96 frames for every new frame; the streaming
buffer pays the amortized cost of one ``push`` (running sums, one vectorised step per hop).
The ratio of the two, measured interleaved in the same run, is printed and stored in
``extra_info`` (target ≥ 50×). The only assert is a coarse floor (≥ 5×) that catches a
regression to recomputation without flaking on a busy machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from scoligait_edge.kmap import StreamingKnowledgeMap, knowledge_map
from scoligait_edge.kmap.bench import streaming_speedup
from scoligait_edge.kmap.testing import toy_walk

WINDOW, HOP = 96, 16
RATIO_TARGET, RATIO_FLOOR = 50.0, 5.0


@pytest.fixture(scope="module")
def pose() -> np.ndarray:
    return toy_walk(WINDOW + 200 * HOP, seed=0, missing=0.02)


def test_bench_kmap_offline_window(benchmark, pose):
    """One offline map of a 96-frame window (the recompute a naive stream pays per frame)."""
    clip = pose[:WINDOW]
    out = benchmark(knowledge_map, clip)
    assert out.shape == (WINDOW, 238)


def test_bench_kmap_streaming_hop(benchmark, pose):
    """16 pushes = one hop, one [96, 238] window emitted; divide by 16 for the per-frame cost."""
    stream = StreamingKnowledgeMap(window=WINDOW, hop=HOP)
    for frame in pose[:WINDOW]:
        stream.push(frame)
    frames = iter(np.resize(np.arange(WINDOW, len(pose)), 10**6).tolist())

    def one_hop():
        for _ in range(HOP - 1):
            stream.push(pose[next(frames)])
        return stream.push(pose[next(frames)])

    window = benchmark(one_hop)
    assert window is not None and window.shape == (WINDOW, 238)


def test_bench_kmap_streaming_vs_recompute_ratio(benchmark, pose, capsys):
    """Ratio measured interleaved in one run; reported, with a coarse regression floor."""
    report = benchmark.pedantic(
        streaming_speedup, kwargs={"window": WINDOW, "hop": HOP, "pose": pose}, rounds=1
    )
    benchmark.extra_info.update(report.as_dict())
    with capsys.disabled():
        push_us, offline_us = report.push_per_frame_s * 1e6, report.offline_window_s * 1e6
        print(
            f"\nkmap streaming: {push_us:.1f} µs/frame vs offline {WINDOW}-frame window {offline_us:.0f} µs"
            f" → {report.ratio:.1f}× cheaper (target ≥ {RATIO_TARGET:.0f}×)"
        )
    assert report.ratio >= RATIO_FLOOR
