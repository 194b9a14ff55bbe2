"""Emulated device lanes (scoligait_edge.runtime.lanes): the table, command lines, staging, and
proof that each lane really is the CPU class it claims, on golden-vector-sized work.

The proof is a tiny integer GEMM whose u8·s8 pair sums exceed int16: AVX2 (and AVX-512 without
VNNI) ``vpmaddubsw`` kernels saturate them, VNNI/AMX and ARM dot-product kernels do not.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from pathlib import Path

import numpy as np
import pytest

from scoligait_edge.runtime import lanes

M, K, N = 4, 64, 8  # K even: the saturating kernels sum products pairwise
TFL_OUT_SCALE = 4096.0  # int8 FC requantization 2**-12, exact in every rounding scheme we avoid ties for


# --------------------------------------------------------------------------------------------
# the probe: inputs, models, and the script each lane runs


def _gemm_inputs() -> tuple[np.ndarray, np.ndarray]:
    i, k = np.meshgrid(np.arange(M), np.arange(K), indexing="ij")
    a = (255 - (7 * i + 3 * k) % 6).astype(np.uint8)  # activations near 255
    kk, n = np.meshgrid(np.arange(K), np.arange(N), indexing="ij")
    sign = np.where(n % 2 == 0, 1, -1)
    b = (sign * (127 - (5 * kk + n) % 7)).astype(np.int8)  # weights near ±127, one sign per column
    return a, b


def _exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.int64) @ b.astype(np.int64)


def _saturated(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """What a ``vpmaddubsw`` kernel computes: u8·s8 pairs (k, k+1) summed into int16 with saturation."""
    prod = a.astype(np.int64)[:, :, None] * b.astype(np.int64)[None, :, :]  # [M, K, N]
    pairs = np.clip(prod[:, 0::2] + prod[:, 1::2], -32768, 32767)
    return pairs.sum(axis=1)


def _onnx_model(path: Path, b: np.ndarray) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "lane_probe",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [None, K])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [None, N])],
        [numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _tflite_inputs() -> tuple[np.ndarray, np.ndarray]:
    """int8 x [M, K] and weights [N, K] whose accumulators stay clear of rounding ties."""
    for seed in range(100):
        rng = np.random.default_rng(seed)
        x = rng.integers(-127, 128, size=(M, K), dtype=np.int8)
        w = rng.integers(-127, 128, size=(N, K), dtype=np.int8)
        rem = (x.astype(np.int64) @ w.astype(np.int64).T) % int(TFL_OUT_SCALE)
        if np.all(np.abs(rem - TFL_OUT_SCALE / 2) > 16):
            return x, w
    raise AssertionError("no tie-free seed")  # pragma: no cover


def _tflite_expected(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    acc = x.astype(np.int64) @ w.astype(np.int64).T
    return np.clip(np.floor(acc / TFL_OUT_SCALE + 0.5), -128, 127).astype(np.int64)


def _tflite_model(path: Path, w: np.ndarray) -> bool:
    """An int8 FULLY_CONNECTED LiteRT model built with the schema's object API (no converter)."""
    try:
        import flatbuffers
        from ai_edge_litert import schema_py_generated as s
    except ImportError:
        return False

    def quant(scale: float) -> s.QuantizationParametersT:
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint, q.quantizedDimension = [scale], [0], 0
        return q

    def tensor(name: str, shape: list[int], buffer: int, scale: float) -> s.TensorT:
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer, t.quantization = (
            name,
            shape,
            s.TensorType.INT8,
            buffer,
            quant(scale),
        )
        return t

    empty, weights = s.BufferT(), s.BufferT()
    weights.data = np.frombuffer(w.tobytes(), dtype=np.uint8)
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1, -1], [2]
    op.builtinOptionsType = s.BuiltinOptions.FullyConnectedOptions
    op.builtinOptions = s.FullyConnectedOptionsT()
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.FULLY_CONNECTED
    code.version = 4
    sg = s.SubGraphT()
    sg.tensors = [
        tensor("x", [M, K], 0, 1.0),
        tensor("w", [N, K], 1, 1.0),
        tensor("y", [M, N], 0, TFL_OUT_SCALE),
    ]
    sg.inputs, sg.outputs, sg.operators, sg.name = [0], [2], [op], "main"
    model = s.ModelT()
    model.version, model.description = 3, "scoligait lane probe"
    model.operatorCodes, model.subgraphs, model.buffers = [code], [sg], [empty, weights]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return True


PROBE = r"""
import json, os, platform, sys, time
t0 = time.perf_counter()
import numpy as np
import onnxruntime as ort
out = {"import_s": time.perf_counter() - t0, "machine": platform.machine()}
out["lane"] = os.environ.get("SCOLIGAIT_LANE")
try:
    from numpy._core._multiarray_umath import __cpu_features__ as feats
except ImportError:  # numpy 1.x
    from numpy.core._multiarray_umath import __cpu_features__ as feats
out["numpy_features"] = sorted(k for k, v in feats.items() if v)
flags = set()
with open("/proc/cpuinfo") as f:
    for line in f:
        key, _, val = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags = set(val.split())
            break
out["cpuinfo_flags"] = sorted(flags)
d = sys.argv[1]
a = np.load(os.path.join(d, "a.npy"))

def ort_run(**config):
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    for k, v in config.items():
        so.add_session_config_entry(k, v)
    sess = ort.InferenceSession(os.path.join(d, "probe.onnx"), so, providers=["CPUExecutionProvider"])
    t = time.perf_counter()
    y = sess.run(None, {"A": a})[0]
    return y.tolist(), time.perf_counter() - t

out["ort"], out["ort_run_s"] = ort_run()
out["ort_x64quantprecision"], _ = ort_run(**{"session.x64quantprecision": "1"})
if os.path.exists(os.path.join(d, "probe.tflite")):
    t = time.perf_counter()
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_path=os.path.join(d, "probe.tflite"), num_threads=1)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.load(os.path.join(d, "x.npy")))
    it.invoke()
    out["litert"] = it.get_tensor(it.get_output_details()[0]["index"]).astype(int).tolist()
    out["litert_s"] = time.perf_counter() - t
try:
    import scoligait_edge.runtime.lanes as staged
    out["lanes_file"] = staged.__file__
except Exception as exc:
    out["lanes_file"] = f"import failed: {type(exc).__name__}: {exc}"
print("PROBE " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("lane_probe")
    a, b = _gemm_inputs()
    np.save(d / "a.npy", a)
    _onnx_model(d / "probe.onnx", b)
    x, w = _tflite_inputs()
    np.save(d / "x.npy", x)
    _tflite_model(d / "probe.tflite", w)
    (d / "probe.py").write_text(PROBE, encoding="utf-8")
    return d


_PROBES: dict[str, dict] = {}


def _require(name: str) -> None:
    ok = lanes.availability(name)
    if ok is not True:
        pytest.skip(f"lane {name}: {ok}")


def _probe(name: str, d: Path) -> dict:
    if name not in _PROBES:
        _require(name)
        proc = lanes.run_in_lane(name, [str(d / "probe.py"), str(d)], timeout=600)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE ")]
        assert proc.returncode == 0 and lines, f"probe failed in lane {name}:\n{proc.stdout}\n{proc.stderr}"
        _PROBES[name] = json.loads(lines[-1][len("PROBE ") :])
    return _PROBES[name]


def _host_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return set(val.split())
    except OSError:
        pass
    return set()


def _host_exact_u8s8() -> bool:
    """Whether this host's ORT U8S8 kernels are exact: VNNI/AMX dot products or ARM, not vpmaddubsw."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return True
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & _host_flags())


# --------------------------------------------------------------------------------------------
# fast: table, command lines, availability, staging


def test_lane_table() -> None:
    assert list(lanes.LANES) == ["native", "x86-avx2", "arm64"]
    for name, lane in lanes.LANES.items():
        assert lane.name == name and lane.description and lane.cpu and lane.runtimes
    assert not lanes.LANES["native"].emulated
    x86, arm = lanes.LANES["x86-avx2"], lanes.LANES["arm64"]
    assert x86.qemu == "qemu-x86_64" and x86.qemu_cpu.startswith("Haswell") and x86.runtimes == ("venv",)
    assert "no AVX-512" in x86.cpu and "no VNNI" in x86.cpu
    assert arm.qemu == "qemu-aarch64" and arm.qemu_cpu == "cortex-a76"
    assert set(arm.runtimes) == {"onnxruntime", "ai-edge-litert", "numpy"} and arm.needs_download
    with pytest.raises(ValueError, match="unknown lane"):
        lanes.get_lane("riscv")


def test_lane_command_lines() -> None:
    argv = ["-c", "print(1)"]
    py = str(lanes.venv_python())
    assert lanes.lane_command("native", argv) == [py, *argv]
    x86 = lanes.lane_command("x86-avx2", argv)
    assert Path(x86[0]).name == "qemu-x86_64" and x86[1:3] == ["-cpu", lanes.X86_AVX2_CPU]
    assert x86[-3:] == [py, *argv]  # the interpreter itself (an ELF), never a console script
    arm = lanes.lane_command("arm64", argv)
    root = lanes.lane_path("arm64") / "root"
    assert Path(arm[0]).name == "qemu-aarch64" and arm[1:5] == ["-cpu", "cortex-a76", "-L", str(root)]
    assert arm[5] == str(root / "usr" / "bin" / "python3.11") and arm[6:] == argv
    assert "max" not in arm
    line = lanes.format_command("arm64", argv, src=Path("/src"))
    assert (
        line.startswith("env PYTHONPATH=/src:") and "HOME=" in line and "qemu-aarch64 -cpu cortex-a76" in line
    )
    env = lanes.lane_env("arm64", src=Path("/src"), scratch=Path("/scratch"))
    assert env["PYTHONPATH"].split(os.pathsep) == ["/src", str(lanes.lane_path("arm64") / "site")]
    assert env["HOME"] == "/scratch" and env["XDG_CACHE_HOME"] == "/scratch/.cache"
    assert env["OMP_NUM_THREADS"] == "1" and env["SCOLIGAIT_LANE"] == "arm64" and env["PYTHONSAFEPATH"] == "1"


def test_fake_cpuinfo_matches_cpu_model() -> None:
    arm = lanes.fake_cpuinfo("arm64", 2)
    assert arm.count("processor\t:") == 2 and "CPU implementer\t: 0x41" in arm and "CPU part\t: 0xd0b" in arm
    assert "asimddp" in arm.split("Features\t:")[1].splitlines()[0]
    x86 = lanes.fake_cpuinfo("x86-avx2", 3)
    flags = set(x86.split("flags\t\t:")[1].splitlines()[0].split())
    assert {"avx2", "fma", "f16c"} <= flags and not any(
        f.startswith(("avx512", "amx", "avx_vnni")) for f in flags
    )
    assert lanes.fake_cpuinfo("native") is None


def test_lane_dir_and_reasons(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCOLIGAIT_LANES_DIR", str(tmp_path / "lanes"))
    assert lanes.lane_dir() == tmp_path / "lanes"
    assert lanes.availability("native") is True
    qemu_here = shutil.which("qemu-aarch64") is not None
    if qemu_here:
        reason = lanes.availability("arm64")
        assert isinstance(reason, str) and "not built" in reason and "make lanes" in reason
        (tmp_path / "lanes").mkdir()
        (tmp_path / "lanes" / "arm64.error").write_text("apt-get update failed: no network\n")
        reason = lanes.availability("arm64")
        assert "no network" in reason and "make lanes" in reason
        with pytest.raises(lanes.LaneError, match="no network"):
            lanes.run_in_lane("arm64", ["-c", "pass"])
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for name in ("x86-avx2", "arm64"):
        reason = lanes.availability(name)
        assert isinstance(reason, str)
        if not (name == "x86-avx2" and platform.machine() != "x86_64"):
            assert "apt-get install qemu-user" in reason, reason


def test_stage_source_maps_export_and_calibration(tmp_path: Path) -> None:
    dest = lanes.stage_source(tmp_path / "stage")
    pkg = dest / "scoligait_edge"
    for sub in ("", "runtime", "export", "calibration", "kmap", "models"):
        assert (pkg / sub / "__init__.py").is_file(), sub
    assert (pkg / "runtime" / "lanes.py").read_bytes() == Path(lanes.__file__).read_bytes()
    assert not (dest / "export").exists() and not (dest / "calibration").exists()
    assert not list(pkg.rglob("__pycache__"))
    assets = [p for p in (pkg / "assets").rglob("*") if p.is_file() or p.is_symlink()]
    assert any(p.suffix == ".json" and not p.is_symlink() for p in assets)
    for p in assets:  # small files copied, big ones linked to the real file
        assert p.is_symlink() == (p.resolve().stat().st_size > lanes.STAGE_COPY_LIMIT), p


def test_stage_source_cached_by_digest(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCOLIGAIT_LANES_DIR", str(tmp_path))
    first = lanes.stage_source()
    assert first.parent == tmp_path / "src" and len(first.name) == 16
    assert lanes.stage_source() == first and (first / "scoligait_edge" / "export" / "__init__.py").is_file()


# --------------------------------------------------------------------------------------------
# the lanes themselves


def test_probe_data_is_a_saturation_witness() -> None:
    a, b = _gemm_inputs()
    prod = a.astype(np.int64)[:, :, None] * b.astype(np.int64)[None, :, :]
    assert np.all(np.abs(prod[:, 0::2] + prod[:, 1::2]) > 32767)  # every int16 pair sum overflows
    assert not np.array_equal(_saturated(a, b), _exact(a, b))


def test_native_lane(probe_dir: Path) -> None:
    r = _probe("native", probe_dir)
    a, b = _gemm_inputs()
    exact = np.array(r["ort"]) == _exact(a, b)
    assert exact.all() == _host_exact_u8s8(), (
        f"host flags {sorted(_host_flags())[:8]}…: ORT gave {r['ort'][0]}"
    )
    assert np.array_equal(r["ort_x64quantprecision"], _exact(a, b))
    if "litert" in r:
        x, w = _tflite_inputs()
        assert np.array_equal(r["litert"], _tflite_expected(x, w))
    assert r["lane"] == "native"
    assert r["lanes_file"].startswith(str(lanes.lane_dir() / "src")), r["lanes_file"]


@pytest.mark.slow
def test_x86_avx2_lane_is_avx2_class(probe_dir: Path) -> None:
    r = _probe("x86-avx2", probe_dir)
    feats = set(r["numpy_features"])
    assert {"AVX2", "FMA3", "F16C"} <= feats and not {f for f in feats if f.startswith("AVX512")}, feats
    assert "avx2" in r["cpuinfo_flags"] and not [f for f in r["cpuinfo_flags"] if "avx512" in f]
    a, b = _gemm_inputs()
    y = np.array(r["ort"])
    assert not np.array_equal(y, _exact(a, b)), "no U8S8 saturation: the lane is not an AVX2-class CPU"
    assert np.array_equal(y, _saturated(a, b))  # exactly the vpmaddubsw int16 pair saturation
    assert np.array_equal(r["ort_x64quantprecision"], _exact(a, b))  # the documented run-time fix
    if "litert" in r:  # LiteRT is s8·s8 (vpmaddwd): exact on AVX2
        x, w = _tflite_inputs()
        assert np.array_equal(r["litert"], _tflite_expected(x, w))


@pytest.mark.slow
def test_arm64_lane_runs_ort_and_litert_exactly(probe_dir: Path) -> None:
    r = _probe("arm64", probe_dir)
    assert r["machine"] == "aarch64" and "ASIMDDP" in r["numpy_features"]
    assert "asimddp" in r["cpuinfo_flags"]
    a, b = _gemm_inputs()
    assert np.array_equal(r["ort"], _exact(a, b)), f"ARM U8S8 kernels saturated: {r['ort'][0]}"
    assert np.array_equal(r["ort_x64quantprecision"], _exact(a, b))  # an x86-only knob: ignored
    x, w = _tflite_inputs()
    assert "litert" in r, "ai_edge_litert did not run in the arm64 lane"
    assert np.array_equal(r["litert"], _tflite_expected(x, w))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x86-avx2", "arm64"])
def test_lane_imports_the_staged_current_source(name: str, probe_dir: Path) -> None:
    r = _probe(name, probe_dir)
    assert r["lane"] == name
    staged = Path(r["lanes_file"])
    assert staged.is_relative_to(lanes.lane_dir() / "src"), r["lanes_file"]
    assert staged.read_bytes() == Path(lanes.__file__).read_bytes()


def test_cli_status_and_print(capsys: pytest.CaptureFixture[str]) -> None:
    assert lanes.main(["status"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in lanes.LANES)
    assert lanes.main(["run", "--print", "arm64", "--", "-c", "pass"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("env PYTHONPATH=") and "-cpu cortex-a76" in line and line.endswith("-c pass")


def test_debian_sources_copies_host_bookworm_entries(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a snapshot mirror\nURIs: http://deb.debian.org/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n"
        "Architectures: amd64\n"
    )
    (tmp_path / "sources.list").write_text(
        "deb [signed-by=/k.gpg] http://mirror.example/debian bookworm main\n"
    )
    text = lanes.debian_sources(tmp_path)
    assert "nodesource" not in text and "Architectures" not in text
    assert "Suites: bookworm bookworm-updates" in text and "Signed-By: /k.gpg" in text
    assert "URIs: http://mirror.example/debian" in text
    (tmp_path / "sources.list").write_text("deb http://deb.debian.org/debian trixie main\n")
    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    fallback = lanes.debian_sources(tmp_path)  # no bookworm entry on the host: Debian's own
    assert "trixie" not in fallback and "Suites: bookworm bookworm-updates" in fallback
    assert "bookworm-security" in fallback
