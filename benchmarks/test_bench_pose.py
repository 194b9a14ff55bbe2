"""Pose per frame on real footage (OpenCV's vtest.avi), and the streaming knowledge map's cost beside it.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_pose.py``. The pose figure is one
``FramePoser.process`` call (MediaPipe PoseLandmarker VIDEO mode + COCO mapping + tracking +
64×44 silhouette) on an already decoded frame; median and p90 land in the benchmark's
``extra_info``; it is measured with the hand-given ROI, on the full frame (``crop="off"``)
and with the automatic crop (default, no ROI). The automatic crop's own extra step — the
MOG2 motion model every frame, and the HOG people detector run only every few frames
while searching — is measured on its own too. The knowledge-map figure is the amortized cost of one
``StreamingKnowledgeMap.push`` (a hop of 16 pushes per round, one window emitted), reported
as a fraction of the pose median measured in the same run (goal ≤ 1 %).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
ROI = (450, 150, 318, 300)  # the walkers' path in vtest.avi (they are too small full-frame)
N_FRAMES = 60
HOP = 16
KMAP_GOAL = 0.01

pytestmark = pytest.mark.skipif(not VTEST.is_file(), reason=f"{VTEST} absent: install Debian's opencv-doc")

_results: dict[str, float] = {}


def _percentiles(benchmark) -> dict[str, float]:
    stats = getattr(benchmark, "stats", None)
    data = getattr(getattr(stats, "stats", None), "data", None) if stats is not None else None
    if not data:  # --benchmark-disable
        return {}
    ms = np.asarray(data) * 1e3
    return {
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "mean_ms": float(ms.mean()),
    }


@pytest.fixture(scope="module")
def bundle() -> Path:
    from scoligait_edge.errors import ModelError
    from scoligait_edge.pose.assets import pose_bundle

    try:
        return pose_bundle()
    except ModelError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def vtest_frames() -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(str(VTEST))
    frames = [cap.read()[1] for _ in range(N_FRAMES)]
    cap.release()
    return frames


def _poser_call(poser, frames):
    """A callable that landmarks the next frame with a strictly increasing timestamp."""
    counter = itertools.count()

    def call():
        i = next(counter)
        return poser.process(frames[i % len(frames)], i, i / 10.0)

    return call


@pytest.mark.parametrize(
    ("roi", "crop"), [(ROI, "off"), (None, "off"), (None, "auto")], ids=["roi", "full-frame", "auto-crop"]
)
def test_bench_pose_per_frame(benchmark, bundle, vtest_frames, roi, crop):
    from scoligait_edge.pose.video import FramePoser

    with FramePoser(roi=roi, bundle=bundle, crop=crop) as poser:
        call = _poser_call(poser, vtest_frames)
        for _ in range(5):  # warm-up: graph set-up, XNNPACK packing
            call()
        results = benchmark.pedantic(lambda: call(), rounds=N_FRAMES, iterations=1, warmup_rounds=0)
        detected = [call().detected for _ in range(20)]
    assert results is not None
    stats = _percentiles(benchmark)
    benchmark.extra_info.update(stats, detected_fraction_last20=float(np.mean(detected)))
    if stats:
        label = "roi" if roi else ("auto crop" if crop == "auto" else "full frame")
        print(f"\npose per frame ({label}): median {stats['median_ms']:.1f} ms, p90 {stats['p90_ms']:.1f} ms")
    if roi is not None and stats:
        _results["pose_median_ms"] = stats["median_ms"]


def test_bench_person_locator_motion_per_frame(benchmark, vtest_frames):
    """The automatic crop's every-frame step: MOG2 on a 384-wide frame + blob boxes."""
    from scoligait_edge.pose.autocrop import PersonLocator

    locator = PersonLocator()
    frames = itertools.cycle(vtest_frames)
    for _ in range(10):  # a background model with some history
        locator.observe(next(frames))
    benchmark.pedantic(lambda: locator.observe(next(frames)), rounds=N_FRAMES, iterations=1)
    assert locator._motion  # vtest.avi's walkers move: blobs are proposed
    stats = _percentiles(benchmark)
    benchmark.extra_info.update(stats)
    if stats:
        print(
            f"\nmotion proposals per frame: median {stats['median_ms']:.2f} ms, p90 {stats['p90_ms']:.2f} ms"
        )


def test_bench_person_locator_hog(benchmark, vtest_frames):
    """The HOG people detector on one 768×576 frame (run every 5th search while nobody is tracked)."""
    from scoligait_edge.pose.autocrop import PersonLocator

    locator = PersonLocator()
    people = benchmark.pedantic(lambda: locator._hog_people(vtest_frames[30]), rounds=8, iterations=1)
    assert len(people) >= 1
    stats = _percentiles(benchmark)
    benchmark.extra_info.update(stats)
    if stats:
        print(f"\nHOG people per call: median {stats['median_ms']:.1f} ms, p90 {stats['p90_ms']:.1f} ms")


def _pose_median_ms(bundle, frames, n: int = 25) -> float:
    from scoligait_edge.pose.video import FramePoser

    with FramePoser(roi=ROI, bundle=bundle, crop="off") as poser:
        call = _poser_call(poser, frames)
        for _ in range(5):
            call()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def test_bench_streaming_kmap_fraction_of_pose(benchmark, bundle, vtest_frames):
    kmap = pytest.importorskip("scoligait_edge.kmap")
    from scoligait_edge.pose.stream import PoseStream

    pose_frames = list(PoseStream(VTEST, roi=ROI, max_frames=40, bundle=bundle))  # real 30 Hz pose
    assert len(pose_frames) >= 100
    stream = kmap.StreamingKnowledgeMap(hop=HOP)
    feed = itertools.cycle(pose_frames)
    for _ in range(stream.window):  # fill the first window
        stream.push(next(feed))

    def one_hop():
        window = None
        for _ in range(HOP):
            out = stream.push(next(feed))
            window = out if out is not None else window
        return window

    window = benchmark.pedantic(one_hop, rounds=40, iterations=1, warmup_rounds=2)
    assert window is not None and window.shape == (stream.window, 238) and np.isfinite(window).all()
    stats = _percentiles(benchmark)
    if not stats:
        return
    kmap_ms = stats["mean_ms"] / HOP  # amortized per pushed frame, window emission included
    pose_ms = _results.get("pose_median_ms") or _pose_median_ms(bundle, vtest_frames)
    fraction = kmap_ms / pose_ms
    benchmark.extra_info.update(kmap_ms_per_frame=kmap_ms, pose_median_ms=pose_ms, fraction_of_pose=fraction)
    print(f"\nstreaming kmap {kmap_ms * 1e3:.1f} µs/frame = {fraction:.2%} of pose ({pose_ms:.1f} ms/frame)")
    assert fraction <= KMAP_GOAL, (
        f"streaming knowledge map costs {fraction:.2%} of pose per frame (goal ≤ 1%)"
    )
