"""``screen --ray``: Ray Data over the plain pipeline — same rows and probabilities, loopback only, resumable.

Every Ray here runs on this machine, bound to 127.0.0.1 (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``),
with HOME and the Ray temp dir in a scratch directory; the processes each test started are found
by that scratch path and ended by their pid.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scoligait_edge.screen import Screener, fleet
from scoligait_edge.screen.batch import run_batch
from scoligait_edge.screen.sources import clip_stage, screen_clip

pytest.importorskip("ray", reason="the [ray] extra is not installed (pip install 'scoligait-edge[ray]')")
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
EXE = Path(sys.executable).with_name("scoligait-edge")
SAME = ("input", "status", "verdict", "referral_prob", "threshold", "cobb_deg", "failed_checks", "windows",
        "bundle_sha256", "error")  # fmt: skip


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A short scratch root under /tmp (Ray's unix-socket paths must stay under ~107 characters)."""
    d = Path(tempfile.mkdtemp(prefix="sgray-t-", dir="/tmp"))
    (d / "home").mkdir()
    (d / "tmp").mkdir()
    yield d
    leftovers = _settle(d)
    _end(leftovers)
    shutil.rmtree(d, ignore_errors=True)
    assert not leftovers, f"Ray processes left running: {[p.pid for p in leftovers]}"


@pytest.fixture(scope="module")
def bundle(scratch: Path) -> Path:
    from scoligait_edge.export import export_model

    return export_model(None, "onnx", scratch / "bundle" / "student", precision="int8", validate=False)


@pytest.fixture(scope="module")
def inputs(scratch: Path) -> Path:
    """3 synthetic pose clips, 2 real videos cut from vtest.avi (MJPG), 1 corrupt video."""
    from scoligait_edge.data.synth import make_dataset

    d = scratch / "in"
    make_dataset(scratch / "ds", subjects=3, clips_per_subject=1, frames=192, seed=3)
    d.mkdir()
    for f in sorted((scratch / "ds" / "clips").glob("*.npz")):
        shutil.copy(f, d / f.name)
    (d / "corrupt.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST not a video" * 8)
    if VTEST.is_file():
        import cv2

        cap = cv2.VideoCapture(str(VTEST))
        for k in range(2):
            w = cv2.VideoWriter(str(d / f"walk{k}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (768, 576))
            for _ in range(45):  # 4.5 s at 10 fps → 135 frames at 30 Hz: windows, and a retake (10 fps)
                ok, frame = cap.read()
                assert ok
                w.write(frame)
            w.release()
        cap.release()
    return d


@pytest.fixture(scope="module")
def plain(inputs: Path, bundle: Path, scratch: Path) -> dict[str, Any]:
    """The plain `screen` batch over the same inputs: the answers the Ray path must give."""
    from scoligait_edge.screen.sources import expand

    out = scratch / "plain"
    rows = run_batch(expand(str(inputs)), Screener(bundle), out, progress=False)
    return {"rows": rows, "out": out}


def _env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env |= {"HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp"), "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # fmt: skip
    return env


def _ours(scratch: Path) -> list[Any]:
    """Processes this test started: their command line or HOME/TMPDIR names its scratch directory,
    and their descendants (Ray's agents rename themselves ``ray::…`` and blank their environment)."""
    found: dict[int, Any] = {}
    for p in psutil.process_iter(["pid", "cmdline"]):
        if p.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):
            env = p.environ()
            tags = [*(p.info["cmdline"] or []), env.get("HOME", ""), env.get("TMPDIR", "")]
            if str(scratch) in " ".join(tags):
                found[p.pid] = p
                found |= {c.pid: c for c in p.children(recursive=True)}
    return list(found.values())


def _settle(scratch: Path, timeout: float = 30) -> list[Any]:
    """Wait for this test's Ray processes to exit by themselves; the ones still running after ``timeout``."""
    t0 = time.monotonic()
    while (left := _ours(scratch)) and time.monotonic() - t0 < timeout:
        time.sleep(0.5)
    return left


def _end(procs: list[Any]) -> None:
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


def _listening(procs: list[Any]) -> set[str]:
    out = set()
    for p in procs:
        with contextlib.suppress(psutil.Error):
            for c in p.net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    ip = ipaddress.ip_address(c.laddr.ip.split("%")[0])
                    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
                    out.add(str(mapped or ip))
    return out


def _run_watching(
    cmd: list[str], scratch: Path, timeout: float = 400
) -> tuple[subprocess.CompletedProcess, set]:
    """Run ``cmd``; meanwhile, the addresses its process tree and this test's Ray processes listen on."""
    proc = subprocess.Popen(cmd, env=_env(scratch), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    ips: set[str] = set()
    t0 = time.monotonic()
    me = psutil.Process(proc.pid)
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        with contextlib.suppress(psutil.Error):
            ips |= _listening([me, *me.children(recursive=True), *_ours(scratch)])
        time.sleep(0.5)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this test started
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), ips


def _same_answers(plain: dict[str, Any], rows: list[dict[str, Any]], out: Path) -> None:
    ref = {r["input"]: r for r in plain["rows"]}
    assert sorted(ref) == sorted(r["input"] for r in rows)
    for r in rows:
        p = ref[r["input"]]
        assert {k: str(r[k]) for k in SAME} == {k: str(p[k]) for k in SAME}, r["input"]
        if p["status"] == "error":
            continue
        a = json.loads((plain["out"] / Path(p["output"]).name / "result.json").read_text())
        b = json.loads((out / Path(r["output"]).name / "result.json").read_text())
        assert [w["referral_prob"] for w in b["windows"]] == pytest.approx(
            [w["referral_prob"] for w in a["windows"]], abs=1e-6
        )
        assert b["verdict"] == a["verdict"] and b["quality"] == a["quality"] and b["bundle"] == a["bundle"]
        assert (out / Path(r["output"]).name / "report.html").is_file()


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_embedded_ray_gives_plain_answers_on_loopback(
    inputs: Path, bundle: Path, plain: dict[str, Any], scratch: Path
) -> None:
    """`screen DIR --ray --workers 2`: an in-process local Ray; same rows as plain; one error row."""
    out = scratch / "ray_embedded"
    t0 = time.perf_counter()
    res, ips = _run_watching(
        [
            str(EXE),
            "screen",
            str(inputs),
            "--ray",
            "--workers",
            "2",
            "--bundle",
            str(bundle),
            "--out",
            str(out),
        ],
        scratch,
    )
    took = time.perf_counter() - t0
    assert res.returncode == 1, res.stderr[-2000:]  # the corrupt video: a row, and exit 1 at the end
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 of ") and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "1 node(s), 2 CPU(s) at 127.0.0.1" in res.stderr
    assert ips and ips <= {"127.0.0.1"}, f"Ray listened on {ips}"
    rows = _csv_rows(out / "results.csv")
    _same_answers(plain, rows, out)
    bad = [r for r in rows if r["status"] == "error"]
    assert len(bad) == 1 and "corrupt.avi" in bad[0]["error"] and "\n" not in bad[0]["error"]
    table = fleet.read_results(out / "results.parquet")
    assert [t["input"] for t in table] == [r["input"] for r in rows]
    assert [t["referral_prob"] for t in table] == [float(r["referral_prob"]) if r["referral_prob"] else None
                                                   for r in rows]  # fmt: skip
    assert not _settle(scratch), "the embedded Ray outlived its driver"
    print(f"\nembedded Ray, {len(rows)} inputs: {took:.1f} s")


def test_existing_cluster_by_address_and_resume(
    inputs: Path, bundle: Path, plain: dict[str, Any], scratch: Path
) -> None:
    """`ray start --head` on loopback (token auth, scratch HOME); `screen --ray --address`; resume skips."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = Path(sys.executable).with_name("ray")
    # the documented secure set-up: a login token, and the head started in token mode
    subprocess.run([str(ray_bin), "get-auth-token", "--generate"], env=_env(scratch), capture_output=True,
                   check=True, timeout=120)  # fmt: skip
    assert (scratch / "home" / ".ray" / "auth_token").is_file()
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats",
         "--temp-dir", str(scratch / "rt"), "--block"],
        env=_env(scratch) | {"RAY_AUTH_MODE": "token"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(head.stdout or []), daemon=True).start()
    try:
        t0 = time.monotonic()
        while not any("Ray runtime started" in x for x in lines) and time.monotonic() - t0 < 120:
            assert head.poll() is None, "".join(lines)[-2000:]
            time.sleep(0.5)
        clips = [*sorted(inputs.glob("*.npz")), inputs / "corrupt.avi"]
        out = scratch / "ray_cluster"
        cmd = [str(EXE), "screen", *map(str, clips), "--ray", "--address", f"127.0.0.1:{port}",
               "--bundle", str(bundle), "--out", str(out)]  # fmt: skip
        res, ips = _run_watching(cmd, scratch)
        assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
        assert "1 node(s), 2 CPU(s) at 127.0.0.1" in res.stderr, res.stderr[-2000:]
        assert ips and ips <= {"127.0.0.1"}, f"Ray listened on {ips}"
        rows = _csv_rows(out / "results.csv")
        sub = {
            "rows": [r for r in plain["rows"] if r["input"] in {str(c) for c in clips}],
            "out": plain["out"],
        }
        _same_answers(sub, rows, out)
        again, _ = _run_watching(cmd, scratch)  # resume: screened inputs are skipped, the corrupt one retried
        rows2 = _csv_rows(out / "results.csv")
        assert again.returncode == 1
        assert [r["status"] for r in rows2] == [
            "error" if r["status"] == "error" else "skipped (already screened)" for r in rows
        ]
        assert [r["verdict"] for r in rows2] == [r["verdict"] for r in rows]
    finally:  # `ray start --block`, its daemons and their agents, by pid (SIGTERM, SIGKILL after 10 s)
        _end(_ours(scratch))  # collected while the raylet still holds its agents as children
        _end(_settle(scratch, timeout=15))
        head.wait(timeout=30)


# --------------------------------------------------------------------------- the stages, without a cluster
def test_stage_handover_and_actor_bundle_checks(
    inputs: Path, bundle: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packed pose stage round-trips; an actor screens like plain from a shipped bundle, refuses another."""
    from scoligait_edge.errors import ScoliGaitError
    from scoligait_edge.fileio import sha256_file

    clip = sorted(inputs.glob("*.npz"))[0]
    st = clip_stage(clip)
    back = fleet.unpack_stage(fleet.pack_stage(st))
    assert np.array_equal(back.pose, st.pose, equal_nan=True) and back.source == st.source
    assert np.array_equal(back.silhouettes, st.silhouettes)
    sha = sha256_file(bundle / "manifest.json")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch / "tmp"))  # the shipped bundle lands in scratch
    actor = fleet.ModelStage(str(scratch / "nowhere" / bundle.name), sha, fleet.bundle_files(bundle))
    assert list((scratch / "tmp").glob(f"scoligait-bundle-{sha[:16]}/{bundle.name}/manifest.json"))
    row = fleet.pose_task({"index": 0, "input": str(clip), "name": clip.stem})
    out = actor({k: np.array([v], dtype=object) for k, v in row.items()})
    got = json.loads(out["result_json"][0])
    ref = screen_clip(clip, Screener(bundle)).data
    assert got["referral_prob"] == pytest.approx(ref["referral_prob"], abs=1e-6)
    assert got["verdict"] == ref["verdict"] and got["bundle"]["path"] == str(
        scratch / "nowhere" / bundle.name
    )
    with pytest.raises(ScoliGaitError, match="manifest sha256"):
        fleet.ModelStage(str(bundle), "0" * 64, fleet.bundle_files(bundle))


def test_object_storage_paths_and_live_sources(inputs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """URIs list and read through pyarrow.fs (file:// standing in for s3://); live sources are refused."""
    from scoligait_edge.errors import InputFileError

    monkeypatch.setattr(fleet, "OBJECT_SCHEMES", (*fleet.OBJECT_SCHEMES, "file"))
    uris = fleet.expand_fleet(f"file://{inputs}")
    assert len(uris) == len(list(inputs.iterdir())) and all(u.startswith("file://") for u in uris)
    npz = next(u for u in uris if u.endswith(".npz"))
    row = fleet.pose_task({"index": 0, "input": npz, "name": "x"})
    assert row["error"] == "" and fleet.unpack_stage(row["stage"]).source["path"] == npz
    with pytest.raises(InputFileError, match="screened live"):
        fleet.expand_fleet("0")
    with pytest.raises(InputFileError, match="screened live"):
        fleet.expand_fleet("rtsp://camera.local/stream")
