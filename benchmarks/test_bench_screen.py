"""``screen`` per stage, its real-time factor, and the device footprint, as pytest-benchmarks.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_screen.py --benchmark-only -s``.

The rows are the ``pipeline/screen-*`` / ``pipeline/device-*`` cases of
:mod:`scoligait_edge.bench.screen_rows` (what the full ``scoligait-edge bench`` table shows),
timed here with more rounds than the table's shared time budget allows; each benchmark's
``extra_info`` holds the row id, the unit and the per-unit median. ``test_screen_profile``
screens the first 240 frames of vtest.avi (768×576, 10 fps) and of its 1080p 30 fps
version through ``screen_video`` with every stage timed and records the per-stage split and
the real-time factor. Everything skips with the reason when vtest.avi, the pose model or the
INT8 bundle is absent. No timed asserts: medians are reported, never judged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.bench import screen_rows as S

#: Timed rounds per row (heavy rows fewer); 3 untimed warm-up calls before each.
ROUNDS = {"pipeline/device-startup": 8, "pipeline/screen-autocrop-hog-1080p": 8}
DEFAULT_ROUNDS = 40
TIMED_ROWS = [c for c in S.SCREEN_ROW_IDS if not c.startswith("pipeline/device-rss")]


@pytest.fixture(scope="module")
def onnx_int8_case():
    from scoligait_edge.bench.sources import export_case, load_models

    student, _ = load_models("student", teacher=False)
    given = os.environ.get("SCOLIGAIT_BENCH_BUNDLES")
    with tempfile.TemporaryDirectory(prefix="scoligait-bench-screen-") as d:
        root = Path(given) if given else Path(d)
        root.mkdir(parents=True, exist_ok=True)
        yield export_case(student, "onnx", "int8", root, flops=None, model_spec="student")


@pytest.fixture(scope="module")
def screen_rows(onnx_int8_case):
    cases = {c.id: c for c in S.screen_cases(onnx_int8_case)}
    yield cases
    for c in cases.values():
        c.close()


def _median_ms(benchmark) -> float | None:
    stats = getattr(benchmark, "stats", None)
    data = getattr(getattr(stats, "stats", None), "data", None) if stats is not None else None
    return float(np.median(data) * 1e3) if data else None


@pytest.mark.parametrize("row", TIMED_ROWS)
def test_screen_row(benchmark, screen_rows, row):
    case = screen_rows[row]
    if not case.runnable:
        pytest.skip(f"{row}: {case.reason}")
    fn = case.setup(1)
    for _ in range(3):  # warm-up: landmarker graphs, caches, the first HOG search
        fn()
    benchmark.group = "screen"
    benchmark.pedantic(fn, rounds=ROUNDS.get(row, DEFAULT_ROUNDS), iterations=1, warmup_rounds=0)
    med = _median_ms(benchmark)
    per_unit = med / case.items_per_call if med is not None else None
    benchmark.extra_info.update(row=row, unit=case.unit, items_per_call=case.items_per_call, notes=case.notes)
    if per_unit is not None:
        benchmark.extra_info[f"median_ms_per_{case.unit}"] = per_unit
        print(f"\n{row}: median {per_unit:.2f} ms per {case.unit}")
    if row == "pipeline/device-startup":
        rss = {k: screen_rows[k].size_bytes for k in ("pipeline/device-rss", "pipeline/device-rss-video")}
        benchmark.extra_info.update(peak_rss_bytes=rss)


@pytest.mark.parametrize("which", ["vtest", "1080p"])
def test_screen_profile(benchmark, onnx_int8_case, which):
    if not S.VTEST.is_file():
        pytest.skip(f"no video at {S.VTEST} (apt-get install opencv-doc)")
    try:
        from scoligait_edge.pose.assets import pose_bundle

        pose_bundle()
    except Exception as e:
        pytest.skip(f"pose model bundle not set up ({e})")
    if not onnx_int8_case.runnable:
        pytest.skip(f"no INT8 ONNX bundle: {onnx_int8_case.reason}")
    video = S.VTEST if which == "vtest" else S.make_1080p()
    out: dict = {}

    def once() -> None:
        out["p"] = S.profile_screen(video, onnx_int8_case.artifact, max_frames=240)

    benchmark.group = "screen-profile"
    benchmark.pedantic(once, rounds=1, iterations=1)
    p = out["p"]
    benchmark.extra_info.update(
        video=Path(p["video"]).name,
        frames=p["frames"],
        rtf_wall=p["rtf_wall"],
        ms_per_frame=1e3 * p["wall_s"] / p["frames"],
        detection_rate=p["detection_rate"],
        stages={r["stage"]: r["ms_per_frame"] for r in p["stages"]},
    )
    print("\n" + S.format_profile(p))
