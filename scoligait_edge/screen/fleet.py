"""Fleet screening on Ray Data: the plain ``screen`` pipeline over the cores of one machine or a cluster.

    scoligait-edge screen videos/ --ray                       # embedded local Ray, sized to the machine
    scoligait-edge screen videos/ --ray --workers 2           # … on 2 CPUs
    scoligait-edge screen s3://bucket/day1/ --ray --address HEAD:6379   # join a `ray start --head` cluster

The pipeline is the one plain ``screen`` runs, split at its natural seam
(:func:`~scoligait_edge.screen.sources.pose_stage` / :func:`~scoligait_edge.screen.sources.screen_stage`):

1. one Ray **task** per input (``Dataset.map``, 1 CPU, ``max_retries``): decode + MediaPipe pose →
   the 30 Hz pose, silhouettes and people-per-frame arrays (the expensive, per-video step);
2. an **actor pool** (``map_batches`` with a callable class, ``compute=ActorPoolStrategy(size=N)``):
   each actor loads the bundle once — ``load_bundle(path, self_test=True)`` checks every file's sha256
   against the manifest and the golden vectors — and refuses to start unless the manifest's sha256 is
   the driver's; it streams the frames through the :class:`~scoligait_edge.screen.pipeline.Screener`
   (knowledge map, bundle windows, quality gate, clip rule) and renders ``result.json`` + ``report.html``
   with :meth:`ScreenResult.save` (the same writer as plain ``screen``);
3. the driver writes ``OUT/<name>/result.json`` + ``report.html``, the same rows as plain ``screen``
   (``results.csv``, rewritten atomically after every input) and, at the end, ``results.parquet``.

A corrupt or unreadable input is a row with its one-line error; a task whose worker dies is retried
(``max_retries``) and, if it keeps dying, becomes an error row — never a failed job. Inputs whose
``OUT/<name>/result.json`` was made with the same bundle (manifest sha256) are skipped, exactly as
plain ``screen`` resumes. Videos are read where they are (local paths, or object storage through
``pyarrow.fs``, copied to a worker's temp dir only for the time of its pose task); only result rows,
JSON and reports come back to the driver.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.errors import InputFileError, ScoliGaitError, UnavailableError
from scoligait_edge.fileio import atomic_path, atomic_write_text, sha256_file
from scoligait_edge.screen.batch import (
    COLUMNS,
    INPUT_ERRORS,
    SKIPPED,
    _row,
    error_line,
    out_names,
    previous_result,
    write_csv,
)
from scoligait_edge.screen.sources import POSE_SUFFIXES, VIDEO_SUFFIXES, PoseStage, expand

#: URI schemes read through ``pyarrow.fs`` (the filesystem layer under Ray Data's readers).
OBJECT_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "az", "hdfs", "viewfs")
MAX_RETRIES = 3  #: a pose task whose worker dies is tried this many more times, then becomes an error row
POSE_WORKERS_PER_ACTOR = 4  #: model actors: 1 per this many pose workers (the model stage is ~8 % of pose)
NUMERIC = {"referral_prob": "float64", "threshold": "float64", "cobb_deg": "float64", "windows": "int64",
           "realtime_factor": "float64", "seconds": "float64"}  # fmt: skip


# --------------------------------------------------------------------------- inputs
def _scheme(s: str) -> str | None:
    return s.split("://", 1)[0].lower() if "://" in s else None


def expand_fleet(sources: list[str] | str) -> list[str]:
    """Files to screen on Ray: local files, directories, globs (as plain ``screen``) or object-storage URIs.

    A camera or a stream URL is screened live by plain ``screen``, not here.
    """
    out: list[str] = []
    for s in [sources] if isinstance(sources, (str, Path)) else sources:
        s = str(s)
        if _scheme(s) in OBJECT_SCHEMES:
            out += _list_uri(s)
            continue
        for item in expand(s):
            if isinstance(item, int) or "://" in str(item):
                raise InputFileError(
                    f"{item}: a camera or stream is screened live, not on Ray",
                    "run `scoligait-edge screen` without --ray for live sources",
                )
            out.append(str(item))
    return out


def _list_uri(uri: str) -> list[str]:
    import pyarrow.fs as pafs

    scheme = _scheme(uri)
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:
            found = fs.get_file_info(pafs.FileSelector(path, recursive=False))
            files = sorted(
                f"{scheme}://{f.path}"
                for f in found
                if f.type == pafs.FileType.File
                and Path(f.path).suffix.lower() in VIDEO_SUFFIXES + POSE_SUFFIXES
            )
            if not files:
                raise InputFileError(
                    f"{uri}: no videos or pose clips there", "pass a prefix of .mp4/.avi/.npz"
                )
            return files
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid / ArrowIOError are these
        raise InputFileError(f"{uri}: {error_line(e)}", "check the URI and the storage credentials") from None
    if info.type != pafs.FileType.File:
        raise InputFileError(f"{uri}: no such object", "check the URI")
    return [uri]


@contextlib.contextmanager
def _local(item: str) -> Iterator[str]:
    """A local path for ``item``: itself, or an object-storage object copied into a temp dir for the task."""
    if _scheme(item) not in OBJECT_SCHEMES:
        yield item
        return
    import pyarrow.fs as pafs

    d = tempfile.mkdtemp(prefix="scoligait-fetch-")
    try:
        fs, path = pafs.FileSystem.from_uri(item)
        dest = Path(d) / Path(path).name
        with fs.open_input_stream(path) as src, open(dest, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)
        yield str(dest)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- stage hand-over
def pack_stage(stage: PoseStage) -> bytes:
    """A :class:`PoseStage` as ``.npz`` bytes (arrays + JSON; no pickle) for Ray's object store."""
    arrays: dict[str, np.ndarray] = {"pose": np.asarray(stage.pose, np.float32)}
    if stage.silhouettes is not None:
        arrays["silhouettes"] = np.asarray(stage.silhouettes)
    if stage.people is not None:
        arrays["people"] = np.asarray(stage.people, np.int64)
    meta = {"source": stage.source, "source_fps": stage.source_fps, "pose_s": stage.pose_s}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack_stage(blob: bytes) -> PoseStage:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
        sil = z["silhouettes"] if "silhouettes" in z.files else None
        people = [int(n) for n in z["people"]] if "people" in z.files else None
        return PoseStage(
            z["pose"], sil, people, meta["source"], float(meta["source_fps"]), float(meta["pose_s"])
        )


# --------------------------------------------------------------------------- stage 1: pose (Ray tasks)
def pose_task(row: dict[str, Any], pose_kw: dict[str, Any] | None = None) -> dict[str, Any]:
    """Decode + pose of one input → its packed :class:`PoseStage`, or its one-line error."""
    from scoligait_edge.screen.sources import pose_stage

    item = str(row["input"])
    t0, started = time.perf_counter(), time.time()
    stage, error = b"", ""
    try:
        with _local(item) as path:
            st = pose_stage(path, progress=False, **(pose_kw or {}))
            st.source["path"] = item  # the input as given, not a worker's temp copy
        stage = pack_stage(st)
    except INPUT_ERRORS as e:  # a broken file is its row, never the job
        error = error_line(e)
    return {"index": int(row["index"]), "input": item, "name": str(row["name"]), "stage": stage,
            "error": error, "pose_wall_s": time.perf_counter() - t0, "pose_t0": started,
            "pose_t1": time.time()}  # fmt: skip


# --------------------------------------------------------------------------- stage 2: model (actor pool)
def bundle_files(path: Path) -> dict[str, bytes]:
    """Every file of a bundle directory (relative path → bytes): how a bundle travels by the object store."""
    return {str(f.relative_to(path)): f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file()}


def _materialize(name: str, sha: str, files: dict[str, bytes]) -> Path:
    """Write the shipped bundle into this node's temp dir (once per node and bundle hash)."""
    from scoligait_edge.fileio import atomic_dir

    dest = Path(tempfile.gettempdir()) / f"scoligait-bundle-{sha[:16]}" / name
    if (dest / "manifest.json").is_file() and sha256_file(dest / "manifest.json") == sha:
        return dest
    # another actor on this node may win the race; then its copy is used
    with contextlib.suppress(OSError), atomic_dir(dest, force=True) as tmp:
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(data)
    return dest


class ModelStage:
    """Ray Data callable class: loads the bundle once per actor, screens packed pose stages."""

    def __init__(
        self, bundle_path: str, manifest_sha256: str, files: dict[str, bytes] | list[Any] | None = None,
        threshold: float | None = None,
    ) -> None:  # fmt: skip
        from scoligait_edge.screen.pipeline import Screener

        path = Path(bundle_path)
        here = (path / "manifest.json").is_file() and sha256_file(path / "manifest.json") == manifest_sha256
        if not here:  # not on this node (or another bundle under that path): the driver's copy
            if isinstance(files, list) and files:  # [ObjectRef] from the driver's ray.put
                import ray

                files = ray.get(files[0])
            if not files:
                raise ScoliGaitError(
                    f"bundle {bundle_path} is not on this worker and was not shipped",
                    "pass the bundle's files (fleet.bundle_files) or put the bundle on shared storage",
                )
            path = _materialize(path.name, manifest_sha256, files)
        # load_bundle(self_test=True): every file's sha256 against the manifest, then the golden vectors
        self.screener = Screener(path, threshold=threshold)
        got = self.screener.bundle_info.get("manifest_sha256")
        if got != manifest_sha256:
            raise ScoliGaitError(
                f"bundle on this worker has manifest sha256 {str(got)[:12]}…, the driver's is "
                f"{manifest_sha256[:12]}…",
                "screen with one bundle across the cluster",
            )
        self.screener.bundle_info["path"] = bundle_path  # results name the bundle as the driver does

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        from scoligait_edge.screen.sources import screen_stage

        keys = ("index", "input", "name", "error", "seconds", "result_json", "report_html",
                "pose_t0", "pose_t1", "model_t1")  # fmt: skip
        out: dict[str, list[Any]] = {k: [] for k in keys}
        for i in range(len(batch["index"])):
            t0 = time.perf_counter()
            error, result_json, report_html = str(batch["error"][i]), "", ""
            if not error:
                try:
                    res = screen_stage(unpack_stage(bytes(batch["stage"][i])), self.screener)
                    with tempfile.TemporaryDirectory(prefix="scoligait-result-") as d:
                        res.save(d, force=True)  # the writer plain `screen` uses
                        result_json = (Path(d) / "result.json").read_text()
                        report = Path(d) / "report.html"
                        report_html = report.read_text() if report.is_file() else ""
                except INPUT_ERRORS as e:
                    error = error_line(e)
            out["index"].append(int(batch["index"][i]))
            out["input"].append(str(batch["input"][i]))
            out["name"].append(str(batch["name"][i]))
            out["error"].append(error)
            out["seconds"].append(float(batch["pose_wall_s"][i]) + time.perf_counter() - t0)
            out["result_json"].append(result_json)
            out["report_html"].append(report_html)
            out["pose_t0"].append(float(batch["pose_t0"][i]))
            out["pose_t1"].append(float(batch["pose_t1"][i]))
            out["model_t1"].append(time.time())
        return out


# --------------------------------------------------------------------------- the Ray session
@contextlib.contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, temp_dir: str | Path | None = None
) -> Iterator[Any]:
    """``ray`` initialised: embedded on 127.0.0.1 (default) or joined to the cluster at ``address``.

    Embedded: in-process ``ray.init(num_cpus=…, include_dashboard=False, _temp_dir=…)`` with
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (every port on 127.0.0.1; set before Ray is imported),
    in a fresh temp dir removed at the end. Joining: ``RAY_AUTH_MODE=token`` (before Ray is
    imported) when the cluster's token is here (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN_PATH`` or
    ``RAY_AUTH_TOKEN``) — a cluster whose head has a token refuses clients without it. A session
    someone else already initialised is used as it is and left running.
    """
    if address is None:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    elif has_token():
        os.environ.setdefault("RAY_AUTH_MODE", "token")  # read when Ray is imported, so before that
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise UnavailableError(
            "screen --ray needs Ray Data", "pip install 'scoligait-edge[ray]' (ray[data]==2.60.0)"
        ) from None
    if ray.is_initialized():
        yield ray
        return
    made = None
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address is None:
            if temp_dir is None:
                made = temp_dir = tempfile.mkdtemp(prefix="sgray-")  # short: Ray's socket paths must fit
            ray.init(num_cpus=int(num_cpus or os.cpu_count() or 1), include_dashboard=False,
                     _temp_dir=str(temp_dir), **quiet)  # fmt: skip
        else:
            try:
                ray.init(address=address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ScoliGaitError(
                    f"could not join the Ray cluster at {address}: {error_line(e)[:200]}",
                    "check the address (`ray status` on the head) and copy the head's ~/.ray/auth_token here",
                ) from None
        yield ray
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if made:
            shutil.rmtree(made, ignore_errors=True)


def has_token() -> bool:
    """Whether a Ray cluster login token is available to this process."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.join(
        os.path.expanduser("~"), ".ray", "auth_token"
    )
    return os.path.isfile(path)


def cluster_line(ray: Any) -> str:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = ray.cluster_resources().get("CPU", 0)
    ips = sorted({n.get("NodeManagerAddress") for n in nodes})
    return f"ray {ray.__version__}: {len(nodes)} node(s), {cpus:g} CPU(s) at {', '.join(ips)}"


# --------------------------------------------------------------------------- the driver
def run_fleet(
    items: list[str],
    screener: Any,
    out_dir: Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    actors: int | None = None,
    force: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    temp_dir: str | Path | None = None,
    max_retries: int = MAX_RETRIES,
    timeline: list[dict[str, Any]] | None = None,
    **pose_kw: Any,
) -> list[dict[str, Any]]:
    """Screen ``items`` on Ray into ``out_dir`` like :func:`~scoligait_edge.screen.batch.run_batch`.

    ``screener`` is the driver's loaded :class:`Screener` (bundle path, manifest sha256, threshold);
    ``workers``: pose tasks at a time (embedded: the local Ray's CPUs; default all cores / the
    whole cluster); ``actors``: model actors (default 1 per 4 workers, at least 1); ``timeline``
    collects each screened input's wall-clock stamps (pose start/end, model end, received).
    """
    info = screener.bundle_info
    bundle_path, sha = info.get("path"), info.get("manifest_sha256")
    if not bundle_path or not sha:
        raise ScoliGaitError("screen --ray needs a bundle directory", "pass --bundle DIR")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = out_names(list(items))
    rows: dict[int, dict[str, Any]] = {}

    def record(i: int, row: dict[str, Any]) -> None:
        rows[i] = row
        write_csv([rows[k] for k in sorted(rows)], out_dir / "results.csv")
        if on_result:
            on_result(row)

    todo = []
    for i, (item, name) in enumerate(zip(items, names, strict=True)):
        data = None if force else previous_result(out_dir / name, sha)
        if data is not None:
            record(i, _row(item, out_dir / name, data) | {"status": SKIPPED})
        else:
            todo.append({"index": i, "input": str(item), "name": name})
    if todo:
        _run_ray(todo, screener, out_dir, record, address=address, workers=workers, actors=actors,
                 on_start=on_start, temp_dir=temp_dir, max_retries=max_retries, pose_kw=pose_kw,
                 timeline=timeline)  # fmt: skip
    for t in todo:  # a task whose worker died on every try: its row says so, the job goes on
        if t["index"] not in rows:
            name = Path(t["input"]).name
            err = f"the Ray task screening {name} died {max_retries + 1} times — see the Ray logs"
            record(t["index"], _row(t["input"], out_dir / t["name"], None, err))
    final = [rows[i] for i in range(len(items))]
    write_csv(final, out_dir / "results.csv")
    write_parquet(final, out_dir / "results.parquet")
    return final


def _run_ray(
    todo: list[dict[str, Any]],
    screener: Any,
    out_dir: Path,
    record: Callable[[int, dict[str, Any]], None],
    *,
    address: str | None,
    workers: int | None,
    actors: int | None,
    on_start: Callable[[str], None] | None,
    temp_dir: str | Path | None,
    max_retries: int,
    pose_kw: dict[str, Any],
    timeline: list[dict[str, Any]] | None,
) -> None:
    info = screener.bundle_info
    with ray_session(address, workers, temp_dir) as ray:
        from ray.data import ActorPoolStrategy, DataContext, TaskPoolStrategy

        if on_start:
            on_start(cluster_line(ray))
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False  # the caller shows progress per finished input
        ctx.print_on_execution_start = False
        ctx.max_errored_blocks = len(todo)  # a block whose task died max_retries times: an error row
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        n_workers = workers or int(ray.cluster_resources().get("CPU", 1))
        n_actors = actors or max(1, math.ceil(n_workers / POSE_WORKERS_PER_ACTOR))
        files_ref = ray.put(bundle_files(Path(info["path"])))  # the bundle by the object store
        ds = ray.data.from_items(todo, override_num_blocks=len(todo))  # one input per block and task
        with warnings.catch_warnings():  # Ray 2.60 has no named retry parameters; both routes warn
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ds.map(pose_task, fn_kwargs={"pose_kw": pose_kw}, num_cpus=1, max_retries=max_retries,
                        compute=TaskPoolStrategy(size=workers) if workers and address else None)  # fmt: skip
            ds = ds.map_batches(
                ModelStage,
                fn_constructor_kwargs={
                    "bundle_path": str(info["path"]),
                    "manifest_sha256": info["manifest_sha256"],
                    "files": [files_ref],  # nested: the actor fetches it only if the path is not there
                    "threshold": screener.threshold,
                },
                compute=ActorPoolStrategy(size=n_actors),
                batch_size=1,
                batch_format="numpy",
                num_cpus=0,  # ~0.03 s screening + ~0.35 s report per video: the CPUs stay with pose
                max_restarts=max_retries,
                max_task_retries=max_retries,
            )
        try:
            for r in _rows(ds):
                i, d = int(r["index"]), out_dir / str(r["name"])
                if timeline is not None:
                    stamps = {k: float(r[k]) for k in ("pose_t0", "pose_t1", "model_t1")}
                    timeline.append({"input": str(r["input"]), **stamps, "received": time.time()})
                if r["error"]:
                    record(i, _row(r["input"], d, None, str(r["error"]), float(r["seconds"])))
                    continue
                atomic_write_text(d / "result.json", str(r["result_json"]), force=True)
                if r["report_html"]:
                    atomic_write_text(d / "report.html", str(r["report_html"]), force=True)
                record(i, _row(r["input"], d, json.loads(r["result_json"]), seconds=float(r["seconds"])))
        except ray.exceptions.RayError as e:
            raise ScoliGaitError(
                f"the Ray job stopped: {error_line(e)[:300]}",
                f"done inputs are in {out_dir / 'results.csv'}; run again to screen the rest",
            ) from None


def _rows(ds: Any) -> Iterator[dict[str, Any]]:
    """Rows as each finishes: whole blocks, no prefetch (``iter_rows`` holds a row until the next is done)."""
    for b in ds.iter_batches(batch_size=None, prefetch_batches=0, batch_format="numpy"):
        for j in range(len(b["index"])):
            yield {k: v[j] for k, v in b.items()}


def write_parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    """``results.parquet``: the ``results.csv`` columns, numbers typed (null where the CSV is empty)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols: dict[str, Any] = {}
    for c in COLUMNS:
        vals = [r.get(c, "") for r in rows]
        if c in NUMERIC:
            kind = NUMERIC[c]
            cols[c] = pa.array([None if v in ("", None) else (int(v) if kind == "int64" else float(v))
                                for v in vals], type=kind)  # fmt: skip
        else:
            cols[c] = pa.array([str(v) for v in vals], type=pa.string())
    with atomic_path(path, force=True) as tmp:
        pq.write_table(pa.table(cols), tmp)
    return path


def read_results(path: Path) -> list[dict[str, Any]]:
    """Rows of a ``results.parquet`` (for checks and downstream tools)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


__all__ = ["ModelStage", "expand_fleet", "pose_task", "ray_session", "read_results", "run_fleet"]
