"""Emulated device lanes: run a Python command on a CPU class this machine is not.

INT8 kernels differ between CPU classes (AVX2 ``vpmaddubsw`` saturates U8S8 pairs into int16,
AVX-512 VNNI and ARM dot-product kernels do not), so an artifact is only proven for a class once
its golden vectors ran on it. A *lane* is an interpreter on such a CPU:

* ``native``   — this machine, the project's own interpreter.
* ``x86-avx2`` — the same venv under ``qemu-x86_64`` with a Haswell CPU model (AVX2, FMA, no
  AVX-512, no VNNI): the kernels AMD Zen 3 and older Intel parts run.
* ``arm64``    — Debian's aarch64 CPython 3.11 with aarch64 wheels of onnxruntime, ai-edge-litert
  and numpy under ``qemu-aarch64 -cpu cortex-a76`` (NEON + dot product): the phone/Jetson kernels.

Emulation is ~100x slower: golden vectors only, never timings. ``make lanes`` builds and caches
the lanes (``python -m scoligait_edge.runtime.lanes build``); :func:`availability` says why a lane
cannot run; :func:`run_in_lane` runs ``python ARGV…`` in one with the *current* package source
staged on ``PYTHONPATH``. See docs/lanes.md.

Standard library only at module level: the torch-free device-side ``verify`` imports this.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: Bump when the layout or recipe of a built lane changes: older builds then read as out of date.
LANE_FORMAT = 1

#: ``qemu-x86_64 -cpu``: Haswell (AVX2/FMA/F16C/BMI2, no AVX-512, no VNNI) minus the features
#: qemu's TCG cannot emulate (TSX, PCID, x2APIC, TSC deadline, INVPCID). None is visible to user
#: code; leaving them on only makes qemu print six warnings per run on stderr.
X86_AVX2_CPU = "Haswell,-hle,-rtm,-pcid,-x2apic,-tsc-deadline,-invpcid"

#: ``qemu-aarch64 -cpu``. Never the default ``max``: its SME path gives wrong INT8 results.
ARM64_CPU = "cortex-a76"

#: Debian packages for the aarch64 interpreter (apt adds their dependency closure).
ARM64_APT_PACKAGES = ("python3.11", "libstdc++6", "libgcc-s1")

#: The Debian suite the aarch64 interpreter comes from (CPython 3.11 = bookworm).
ARM64_SUITE = "bookworm"

#: aarch64 wheels (default pins; the versions installed beside this module win, so that the lane
#: runs what the native lane runs).
ARM64_WHEELS = {"onnxruntime": "1.31.1", "ai-edge-litert": "2.3.0", "numpy": "2.4.6"}

#: pip platform tags for the aarch64 wheels (ai-edge-litert 2.3.0 exists only as
#: manylinux_2_27_aarch64; without that tag pip offers <= 1.4.0).
ARM64_PIP_PLATFORM = (
    "--platform", "manylinux_2_28_aarch64",
    "--platform", "manylinux_2_27_aarch64",
    "--platform", "manylinux2014_aarch64",
    "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
)  # fmt: skip

#: Oldest qemu whose TCG has AVX2 (7.2) / the cortex-a76 model (7.1).
QEMU_MIN = {"qemu-x86_64": (7, 2), "qemu-aarch64": (7, 1)}

#: Package-data files at most this large are copied into a staged tree; larger ones are symlinked.
STAGE_COPY_LIMIT = 256 * 1024

#: Environment a lane run gets on top of the caller's: one thread everywhere.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}

#: Variables that would point an emulated foreign-architecture interpreter at host files.
_FOREIGN_STRIP = (
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
)

Progress = Callable[[str], None] | None


class LaneError(RuntimeError):
    """A lane cannot run or could not be built; ``str(err)`` is the reason and the remedy."""


@dataclass(frozen=True)
class Lane:
    """One row of :data:`LANES`."""

    name: str
    description: str
    cpu: str  #: the CPU class it runs (emulated or not)
    arch: str  #: the guest machine architecture (``platform.machine()`` inside the lane)
    runtimes: tuple[str, ...]  #: distributions importable in it (``"venv"``: the whole venv)
    qemu: str | None = None  #: qemu-user binary, ``None`` when native
    qemu_cpu: str | None = None  #: its ``-cpu`` model
    needs_download: bool = False  #: True when building it fetches packages (``make lanes``)

    @property
    def emulated(self) -> bool:
        return self.qemu is not None


LANES: dict[str, Lane] = {
    lane.name: lane
    for lane in (
        Lane(
            name="native",
            description="this machine, the project's own interpreter",
            cpu="the host CPU",
            arch=platform.machine(),
            runtimes=("venv",),
        ),
        Lane(
            name="x86-avx2",
            description="the project's venv under qemu-x86_64 with a Haswell CPU model",
            cpu="x86-64 AVX2 + FMA, no AVX-512, no VNNI (Haswell; the AMD Zen 3 INT8 kernel class)",
            arch="x86_64",
            runtimes=("venv",),
            qemu="qemu-x86_64",
            qemu_cpu=X86_AVX2_CPU,
        ),
        Lane(
            name="arm64",
            description="Debian aarch64 CPython 3.11 + aarch64 wheels under qemu-aarch64",
            cpu="ARMv8.2-A Cortex-A76: NEON + dot product (asimddp), no SVE/SME (phone/Jetson class)",
            arch="aarch64",
            runtimes=tuple(ARM64_WHEELS),
            qemu="qemu-aarch64",
            qemu_cpu=ARM64_CPU,
            needs_download=True,
        ),
    )
}

_ARM64_CPUINFO_ENTRY = """\
processor\t: {n}
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x4
CPU part\t: 0xd0b
CPU revision\t: 1

"""

_X86_AVX2_CPUINFO_ENTRY = """\
processor\t: {n}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 60
model name\t: Intel Core Processor (Haswell, emulated by qemu-x86_64)
stepping\t: 1
cpu MHz\t\t: 2000.000
cache size\t: 16384 KB
physical id\t: 0
siblings\t: {count}
core id\t\t: {n}
cpu cores\t: {count}
fpu\t\t: yes
cpuid level\t: 13
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr \
sse sse2 ss syscall nx rdtscp lm constant_tsc rep_good nopl xtopology cpuid pni pclmulqdq ssse3 fma cx16 \
sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm fsgsbase bmi1 avx2 smep bmi2 \
erms xsaveopt arat
bogomips\t: 4000.00
address sizes\t: 40 bits physical, 48 bits virtual

"""


def fake_cpuinfo(name: str, count: int | None = None) -> str | None:
    """The ``/proc/cpuinfo`` a lane's guest reads (served through qemu's ``-L`` prefix).

    ORT and LiteRT segfault at import on aarch64 without an ARM-format cpuinfo, and it must
    match ``-cpu`` (an A76 file under another model gives SIGILL on INT8). For x86-avx2 it keeps
    readers of ``/proc/cpuinfo`` from seeing the host's AVX-512 flags.
    """
    count = max(1, count or os.cpu_count() or 1)
    entry = {"arm64": _ARM64_CPUINFO_ENTRY, "x86-avx2": _X86_AVX2_CPUINFO_ENTRY}.get(name)
    if entry is None:
        return None
    return "".join(entry.format(n=n, count=count) for n in range(count))


# ---------------------------------------------------------------------------------------------
# where things live


def get_lane(name: str) -> Lane:
    try:
        return LANES[name]
    except KeyError:
        raise ValueError(f"unknown lane {name!r}; known lanes: {', '.join(LANES)}") from None


def repo_root() -> Path | None:
    """The source checkout this module belongs to (``None`` for an installed or staged copy)."""
    root = Path(__file__).resolve().parents[2]
    py = root / "pyproject.toml"
    try:
        if py.is_file() and 'name = "scoligait-edge"' in py.read_text(encoding="utf-8"):
            return root
    except OSError:
        pass
    return None


def venv_dir() -> Path | None:
    """The project's virtual environment: the running one, else ``<repo>/.venv``."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix)
    root = repo_root()
    if root is not None and (root / ".venv" / "pyvenv.cfg").is_file():
        return root / ".venv"
    return None


def venv_python() -> Path:
    """The interpreter of the native and x86-avx2 lanes (an ELF, never a console script)."""
    venv = venv_dir()
    if venv is not None and (venv / "bin" / "python").exists():
        return venv / "bin" / "python"
    return Path(sys.executable)


def lane_dir() -> Path:
    """Cache root: ``$SCOLIGAIT_LANES_DIR``, else ``<venv>/share/scoligait-edge/lanes``."""
    env = os.environ.get("SCOLIGAIT_LANES_DIR")
    if env:
        return Path(env).expanduser().absolute()
    venv = venv_dir()
    if venv is not None:
        return venv / "share" / "scoligait-edge" / "lanes"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "scoligait-edge" / "lanes"


def lane_path(name: str) -> Path:
    """Where a built lane lives (``root/``, ``site/`` and the stamp ``lane.json``)."""
    return lane_dir() / get_lane(name).name


def _stamp_path(name: str) -> Path:
    return lane_path(name) / "lane.json"


def _error_path(name: str) -> Path:
    return lane_dir() / f"{name}.error"


def _arm64_python(path: Path) -> Path:
    return path / "root" / "usr" / "bin" / "python3.11"


# ---------------------------------------------------------------------------------------------
# qemu


def _qemu_binary(qemu: str) -> str | None:
    return shutil.which(qemu)


@lru_cache(maxsize=8)
def _qemu_version(path: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else None


def _qemu_problem(lane: Lane) -> str | None:
    assert lane.qemu is not None
    path = _qemu_binary(lane.qemu)
    if path is None:
        return (
            f"{lane.qemu} not found on PATH: install qemu user mode with `apt-get install qemu-user` "
            "(`make lanes` tries that)"
        )
    version = _qemu_version(path)
    need = QEMU_MIN[lane.qemu]
    if version is None:
        return f"{path} --version failed: cannot tell whether it emulates {lane.cpu}"
    if version[:2] < need:
        what = "AVX2 in TCG" if lane.qemu == "qemu-x86_64" else f"the {lane.qemu_cpu} CPU model"
        return (
            f"{path} is qemu {'.'.join(map(str, version))}, which lacks {what} "
            f"(needs >= {'.'.join(map(str, need))}): install a newer qemu-user"
        )
    return None


# ---------------------------------------------------------------------------------------------
# building


def _lane_key(name: str) -> dict:
    """What a built lane must have been built from to count as current."""
    lane = get_lane(name)
    key: dict = {"format": LANE_FORMAT, "lane": name, "qemu_cpu": lane.qemu_cpu}
    template = fake_cpuinfo(name, 1)
    if template is not None:
        key["cpuinfo"] = hashlib.sha256(template.encode()).hexdigest()[:16]
    if name == "arm64":
        key["apt"] = {"suite": ARM64_SUITE, "packages": list(ARM64_APT_PACKAGES)}
        key["wheels"] = arm64_wheel_pins()
    return key


def arm64_wheel_pins() -> list[str]:
    """``name==version`` for the arm64 wheels: the versions installed here, else the defaults."""
    from importlib import metadata

    pins = []
    for dist, default in ARM64_WHEELS.items():
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = default
        pins.append(f"{dist}=={version}")
    return pins


def read_stamp(name: str) -> dict | None:
    """The stamp of a built lane (versions, build time, size), or ``None``."""
    try:
        return json.loads(_stamp_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_current(name: str) -> bool:
    stamp = read_stamp(name)
    if stamp is None or stamp.get("key") != _lane_key(name):
        return False
    if name == "arm64":
        return _arm64_python(lane_path(name)).exists()
    return (lane_path(name) / "root" / "proc" / "cpuinfo").is_file()


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    import fcntl

    lane_dir().mkdir(parents=True, exist_ok=True)
    with open(lane_dir() / f".{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _say(progress: Progress, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _run(
    cmd: Sequence[str], *, what: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run a build step; raise :class:`LaneError` with its output tail when it fails."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, cwd=cwd, timeout=1800)
    except FileNotFoundError:
        raise LaneError(f"{what}: {cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise LaneError(f"{what}: timed out after 1800 s") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise LaneError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout + proc.stderr


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, f))
                if not os.path.islink(os.path.join(dirpath, f)):
                    total += st.st_size
    return total


def _write_cpuinfo(name: str, root: Path) -> None:
    """(Re)write ``root/proc/cpuinfo`` for this host's CPU count, atomically, only if it changed."""
    text = fake_cpuinfo(name)
    if text is None:
        return
    target = root / "proc" / "cpuinfo"
    with contextlib.suppress(OSError):
        if target.read_text(encoding="utf-8") == text:
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".cpuinfo.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def build_lane(name: str, progress: Progress = None, *, force: bool = False) -> Path | None:
    """Build (or find cached) lane ``name``; return its directory, ``None`` for ``native``.

    Idempotent: a current build (stamp ``lane.json`` with the same key) returns at once. The
    build happens in a temporary directory beside the final one and is renamed into place, so
    an interrupted build leaves nothing half-made. A failure raises :class:`LaneError` and is
    recorded, so that :func:`availability` can report it.
    """
    lane = get_lane(name)
    if not lane.emulated:
        return None
    with _lock(name):
        if not force and _is_current(name):
            _say(progress, f"{name}: cached at {lane_path(name)}")
            return lane_path(name)
        problem = _qemu_problem(lane)
        if problem is not None:  # reported live by availability(), not recorded
            raise LaneError(problem)
        t0 = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=lane_dir()))
        tmp.chmod(0o755)  # mkdtemp makes it private; the published lane is not
        try:
            info = _build_x86_avx2(tmp, progress) if name == "x86-avx2" else _build_arm64(tmp, progress)
            stamp = {
                "key": _lane_key(name),
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_s": round(time.monotonic() - t0, 1),
                "size_bytes": tree_size(tmp),
                "host": {"machine": platform.machine(), "qemu": _qemu_binary(lane.qemu or "")},
                **info,
            }
            (tmp / "lane.json").write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
            final = lane_path(name)
            old = None
            if final.exists():
                old = final.with_name(f".{name}.old-{os.getpid()}")
                os.rename(final, old)
            os.rename(tmp, final)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception):
                msg = str(exc) if isinstance(exc, LaneError) else f"{type(exc).__name__}: {exc}"
                _error_path(name).write_text(msg.rstrip() + "\n", encoding="utf-8")
                if not isinstance(exc, LaneError):
                    raise LaneError(f"building lane {name} failed: {msg}") from exc
            raise
        with contextlib.suppress(FileNotFoundError):
            _error_path(name).unlink()
        _say(
            progress,
            f"{name}: built in {stamp['build_s']} s, {stamp['size_bytes'] / 2**20:.0f} MiB at {final}",
        )
        return final


def _build_x86_avx2(tmp: Path, progress: Progress) -> dict:
    _say(progress, "x86-avx2: writing the Haswell /proc/cpuinfo served through qemu -L")
    _write_cpuinfo("x86-avx2", tmp / "root")
    _check_guest(tmp, "x86-avx2", progress)
    return {"python": str(venv_python())}


def _deb822_entries(text: str) -> list[dict[str, str]]:
    entries, cur = [], {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if cur:
                entries.append(cur)
            cur = {}
        elif not line.lstrip().startswith("#") and ":" in line and not line[0].isspace():
            k, _, v = line.partition(":")
            cur[k.strip().lower()] = v.strip()
    return entries


def debian_sources(etc: Path = Path("/etc/apt")) -> str:
    """deb822 sources for Debian ``bookworm`` arm64, copied from the host's entries when they are
    Debian bookworm ones (mirrors and snapshots kept), else the default deb.debian.org entries."""
    out: list[str] = []
    files = sorted((etc / "sources.list.d").glob("*.sources")) if (etc / "sources.list.d").is_dir() else []
    for f in files:
        with contextlib.suppress(OSError):
            for e in _deb822_entries(f.read_text(encoding="utf-8")):
                if e.get("enabled", "yes").lower() == "no" or "deb" not in e.get("types", "").split():
                    continue
                suites = [s for s in e.get("suites", "").split() if s.startswith(ARM64_SUITE)]
                if "debian" not in e.get("uris", "") or not suites:
                    continue
                block = ["Types: deb", f"URIs: {e['uris']}", f"Suites: {' '.join(suites)}"]
                block.append(f"Components: {e.get('components', 'main')}")
                if e.get("signed-by"):
                    block.append(f"Signed-By: {e['signed-by']}")
                out.append("\n".join(block))
    lists = [etc / "sources.list"]
    if (etc / "sources.list.d").is_dir():
        lists += sorted((etc / "sources.list.d").glob("*.list"))
    for f in lists:
        with contextlib.suppress(OSError):
            for line in f.read_text(encoding="utf-8").splitlines():
                m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)", line)
                if not m or "debian" not in m.group(2) or not m.group(3).startswith(ARM64_SUITE):
                    continue
                opts = m.group(1) or ""
                signed = re.search(r"signed-by=(\S+?)[\s\]]", opts)
                block = [
                    "Types: deb",
                    f"URIs: {m.group(2)}",
                    f"Suites: {m.group(3)}",
                    f"Components: {m.group(4)}",
                ]
                if signed:
                    block.append(f"Signed-By: {signed.group(1)}")
                out.append("\n".join(block))
    if not out:
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        signed = f"\nSigned-By: {keyring}" if Path(keyring).is_file() else ""
        out = [
            f"Types: deb\nURIs: http://deb.debian.org/debian\nSuites: {ARM64_SUITE} {ARM64_SUITE}-updates\n"
            f"Components: main{signed}",
            f"Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: {ARM64_SUITE}-security\n"
            f"Components: main{signed}",
        ]
    return "\n\n".join(out) + "\n"


def _apt_options(work: Path) -> list[str]:
    """``-o`` options for a private arm64 APT (the host's dpkg database is never touched)."""
    import pwd

    user = pwd.getpwuid(os.getuid()).pw_name
    opts = {
        "APT::Architecture": "arm64",
        "APT::Architectures": "arm64",
        "APT::Sandbox::User": user,
        "APT::Install-Recommends": "false",
        "Acquire::Languages": "none",
        "Dir::State": str(work / "state"),
        "Dir::State::status": str(work / "state" / "status"),
        "Dir::Cache": str(work / "cache"),
        "Dir::Etc": str(work / "etc"),
        "Dir::Etc::TrustedParts": "/etc/apt/trusted.gpg.d",
        "Dir::Etc::Trusted": "/etc/apt/trusted.gpg",
    }
    return [arg for k, v in opts.items() for arg in ("-o", f"{k}={v}")]


def _build_arm64(tmp: Path, progress: Progress) -> dict:
    work = tmp / "work"
    dirs = "state/lists/partial cache/archives/partial etc/sources.list.d etc/apt.conf.d etc/preferences.d"
    for d in [*dirs.split(), "debs", "wheels"]:
        (work / d).mkdir(parents=True, exist_ok=True)
    (work / "state" / "status").touch()
    (work / "etc" / "sources.list.d" / "debian.sources").write_text(debian_sources(), encoding="utf-8")
    # Keep a host proxy setting, nothing else of the host's APT configuration.
    host_conf = Path("/etc/apt/apt.conf.d")
    if host_conf.is_dir():
        for f in host_conf.iterdir():
            with contextlib.suppress(OSError, UnicodeDecodeError):
                if f.is_file() and "proxy" in f.read_text(encoding="utf-8").lower():
                    shutil.copy(f, work / "etc" / "apt.conf.d" / f.name)
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise LaneError("the arm64 lane is built with apt-get and dpkg-deb (Debian/Ubuntu); neither is here")
    apt = ["apt-get", "-q", *_apt_options(work)]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    env.pop("APT_CONFIG", None)

    t = time.monotonic()
    _say(progress, f"arm64: apt-get update (private arm64 APT state in {work})")
    update = _run([*apt, "update"], what="apt-get update (Debian arm64 indexes)", env=env)
    fetch_errors = [ln for ln in update.splitlines() if ln.startswith(("Err:", "W: Failed", "E: "))]
    try:
        sim = _run(
            [*apt, "-s", "install", *ARM64_APT_PACKAGES], what="resolving python3.11 for arm64", env=env
        )
    except LaneError as exc:
        if fetch_errors:  # the real cause: no index could be fetched (offline, proxy, mirror)
            raise LaneError(
                "apt-get update could not fetch the Debian arm64 indexes:\n" + "\n".join(fetch_errors[:8])
            ) from exc
        raise
    debs = re.findall(r"^Inst (\S+) (?:\[[^\]]*\] )?\((\S+)", sim, flags=re.M)
    if not debs:
        raise LaneError(
            f"apt-get -s install {' '.join(ARM64_APT_PACKAGES)} resolved no packages:\n{sim[-2000:]}"
        )
    _say(progress, f"arm64: downloading {len(debs)} .debs ({time.monotonic() - t:.1f} s so far)")
    _run(
        [*apt, "download", *(f"{p}={v}" for p, v in debs)],
        what="apt-get download",
        env=env,
        cwd=work / "debs",
    )
    root = tmp / "root"
    root.mkdir()
    files = sorted((work / "debs").glob("*.deb"))
    for deb in files:
        _run(["dpkg-deb", "-x", str(deb), str(root)], what=f"dpkg-deb -x {deb.name}")
    _relativize_symlinks(root)
    _write_cpuinfo("arm64", root)
    deb_s = time.monotonic() - t

    t = time.monotonic()
    pins = arm64_wheel_pins()
    pip = [str(venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
    _say(progress, f"arm64: pip download {' '.join(pins)} (aarch64 wheels)")
    download = [*pip, "download", "--only-binary=:all:", "--no-deps", *ARM64_PIP_PLATFORM]
    _run([*download, "-d", str(work / "wheels"), *pins], what="pip download (aarch64 wheels)")
    wheels = sorted(p.name for p in (work / "wheels").glob("*.whl"))
    install = [*pip, "install", "--no-deps", "--no-index", "--only-binary=:all:", *ARM64_PIP_PLATFORM]
    install += ["--target", str(tmp / "site"), *(str(work / "wheels" / w) for w in wheels)]
    _run(install, what="pip install --target (aarch64 wheels)")
    wheel_s = time.monotonic() - t

    t = time.monotonic()
    if sys.version_info[:2] == (3, 11):  # same bytecode magic as the guest: compile natively, ~100x faster
        _say(progress, "arm64: precompiling the stdlib and wheels to .pyc (natively)")
        stdlib = root / "usr" / "lib" / "python3.11"
        compileall = [sys.executable, "-m", "compileall", "-q", "-j0", str(stdlib), str(tmp / "site")]
        subprocess.run(compileall, capture_output=True)
    compile_s = time.monotonic() - t
    shutil.rmtree(work)
    _check_guest(tmp, "arm64", progress)
    return {
        "debs": [f"{p}={v}" for p, v in debs],
        "wheels": wheels,
        "timings_s": {"debs": round(deb_s, 1), "wheels": round(wheel_s, 1), "compile": round(compile_s, 1)},
    }


def _relativize_symlinks(root: Path) -> None:
    """Point absolute symlinks inside the unpacked root back into it (the kernel resolves a
    symlink's target on the host, not under qemu's ``-L`` prefix)."""
    for dirpath, dirs, files in os.walk(root):
        for entry in (*dirs, *files):
            p = Path(dirpath) / entry
            if p.is_symlink():
                target = os.readlink(p)
                if target.startswith("/"):
                    p.unlink()
                    p.symlink_to(os.path.relpath(root / target.lstrip("/"), p.parent))


def _check_guest(path: Path, name: str, progress: Progress) -> None:
    """Smoke-test a freshly built lane before it is published."""
    code = (
        "import platform, numpy, onnxruntime; "
        "print(platform.machine(), numpy.__version__, onnxruntime.__version__)"
    )
    if name == "arm64":
        code += "; import ai_edge_litert.interpreter"
    cmd = _command(name, path, ["-c", code])
    env = _lane_env(name, path, None, Path(tempfile.mkdtemp(prefix=".check-", dir=path)), None)
    t = time.monotonic()
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    finally:
        shutil.rmtree(env["HOME"], ignore_errors=True)
    if proc.returncode != 0 or get_lane(name).arch not in proc.stdout:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise LaneError(
            f"the built {name} lane does not start (exit {proc.returncode}): {shlex.join(cmd)}\n{tail}"
        )
    _say(
        progress,
        f"{name}: guest imports numpy + onnxruntime in {time.monotonic() - t:.1f} s: {proc.stdout.strip()}",
    )


# ---------------------------------------------------------------------------------------------
# availability


def availability(name: str) -> bool | str:
    """``True`` when lane ``name`` can run here, else the reason and the remedy (one string)."""
    lane = get_lane(name)
    if not lane.emulated:
        py = venv_python()
        return True if py.exists() else f"the native interpreter {py} does not exist: run `make setup`"
    if lane.name == "x86-avx2" and platform.machine() not in ("x86_64", "AMD64"):
        return (
            f"the x86-avx2 lane runs the x86_64 venv and needs an x86_64 host (this is {platform.machine()})"
        )
    problem = _qemu_problem(lane)
    if problem is not None:
        return problem
    if lane.name == "x86-avx2":
        py = venv_python()
        try:
            with open(py, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    return f"{py} is not an ELF executable (a wrapper script?): qemu-x86_64 cannot run it"
        except OSError as exc:
            return f"cannot read the interpreter {py}: {exc}"
    if _is_current(name):
        return True
    if not lane.needs_download:
        return True  # built on demand in a fraction of a second by run_in_lane
    err = _error_path(name)
    if err.is_file():
        text = err.read_text(encoding="utf-8", errors="replace").strip()
        return f"building the {name} lane failed: {text} — fix that and run `make lanes`"
    if read_stamp(name) is not None:
        return f"the {name} lane at {lane_path(name)} is out of date (versions changed): run `make lanes`"
    return f"the {name} lane is not built (expected at {lane_path(name)}): run `make lanes`"


# ---------------------------------------------------------------------------------------------
# staging the package source


def _pyproject_layout(root: Path) -> tuple[dict[str, Path], dict[str, list[str]]] | None:
    """``{package: source dir}`` and package-data globs from ``[tool.setuptools]``."""
    import tomllib

    try:
        cfg = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    st = cfg.get("tool", {}).get("setuptools", {})
    pkgs = st.get("packages")
    pkg_dir = st.get("package-dir", {})
    if not isinstance(pkgs, list):
        return None

    def source(pkg: str) -> Path:
        parts = pkg.split(".")
        for i in range(len(parts), 0, -1):
            prefix = ".".join(parts[:i])
            if prefix in pkg_dir:
                return root / pkg_dir[prefix] / Path(*parts[i:])
        base = root / pkg_dir[""] if "" in pkg_dir else root
        return base / Path(*parts)

    return {p: source(p) for p in pkgs}, dict(st.get("package-data", {}))


def _installed_layout() -> tuple[dict[str, Path], dict[str, list[str]]]:
    """An installed (non-editable) copy is already a plain tree: stage it as it is."""
    top = Path(__file__).resolve().parents[1]
    pkgs = {}
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        if "__init__.py" in files:
            rel = Path(dirpath).relative_to(top)
            pkgs[".".join(("scoligait_edge", *rel.parts))] = Path(dirpath)
    return pkgs, {"scoligait_edge": ["assets/*", "assets/**/*"]}


def _stage_plan() -> list[tuple[str, Path, bool]]:
    """``(relative dest path, source file, copy?)`` for every file of the staged tree."""
    root = repo_root()
    layout = _pyproject_layout(root) if root is not None else None
    pkgs, data = layout if layout is not None else _installed_layout()
    plan: dict[str, tuple[Path, bool]] = {}
    for pkg, src in sorted(pkgs.items()):
        dest = Path(*pkg.split("."))
        if not src.is_dir():
            continue
        for f in sorted(src.glob("*.py")):
            plan[str(dest / f.name)] = (f, True)
        for pattern in data.get(pkg, []) + data.get("*", []):
            for f in sorted(src.glob(pattern)):
                if f.is_file() and "__pycache__" not in f.parts and not fnmatch.fnmatch(f.name, "*.py[co]"):
                    rel = f.relative_to(src)
                    plan[str(dest / rel)] = (f, f.stat().st_size <= STAGE_COPY_LIMIT)
    return [(rel, f, copy) for rel, (f, copy) in sorted(plan.items())]


def source_digest() -> str:
    """A hash of the package source as a lane would import it (file names and contents)."""
    h = hashlib.sha256(f"stage-v{LANE_FORMAT}".encode())
    for rel, f, copy in _stage_plan():
        h.update(rel.encode() + b"\0")
        if copy:
            h.update(f.read_bytes())
        else:
            st = f.stat()
            h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def stage_source(dest: Path | None = None) -> Path:
    """Lay out a plain importable ``scoligait_edge`` tree and return the dir for ``PYTHONPATH``.

    The package maps ``export/`` and ``calibration/`` in as ``scoligait_edge.export`` and
    ``scoligait_edge.calibration`` (setuptools package-dir); the editable-install finder that does
    that natively is not available to another interpreter. The staged tree holds what a wheel
    would: every package's ``*.py`` plus the package data (files up to :data:`STAGE_COPY_LIMIT`
    copied, larger ones symlinked). Without ``dest`` it is cached under
    ``lane_dir()/src/<digest>`` so a run always imports the current code.
    """
    if dest is not None:
        _stage_into(Path(dest))
        return Path(dest)
    digest = source_digest()
    base = lane_dir() / "src"
    final = base / digest
    if (final / "scoligait_edge" / "__init__.py").is_file():
        with contextlib.suppress(OSError):
            os.utime(final)  # most recently used: kept by _prune_stages
        return final
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=base))
    tmp.chmod(0o755)
    try:
        _stage_into(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # staged concurrently by another run: use that one
            if not (final / "scoligait_edge" / "__init__.py").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune_stages(base, keep=final)
    return final


def _stage_into(dest: Path) -> None:
    for rel, f, copy in _stage_plan():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            shutil.copy2(f, target)
        else:
            target.symlink_to(f.resolve())


def _prune_stages(base: Path, keep: Path, n: int = 6) -> None:
    stages = [p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    stages.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for p in stages[n:]:
        if p != keep:
            shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# running


def _command(name: str, path: Path, argv: Sequence[str]) -> list[str]:
    lane = get_lane(name)
    if name == "native":
        return [str(venv_python()), *argv]
    qemu = _qemu_binary(lane.qemu or "") or lane.qemu or ""
    root = path / "root"
    py = str(_arm64_python(path)) if name == "arm64" else str(venv_python())
    return [qemu, "-cpu", lane.qemu_cpu or "", "-L", str(root), py, *argv]


def lane_command(name: str, argv: Sequence[str]) -> list[str]:
    """The command line :func:`run_in_lane` runs (without its environment; see :func:`lane_env`)."""
    return _command(name, lane_path(name), argv)


def _lane_vars(
    name: str,
    path: Path,
    src: Path | None,
    scratch: Path,
    pythonpath: Sequence[str] = (),
    script_dir: Path | None = None,
) -> dict[str, str]:
    """The variables a lane run sets itself (see :func:`lane_env`)."""
    paths = [p for p in pythonpath if p]
    if src is not None:
        paths.append(str(src))
    if name == "arm64":
        paths.append(str(path / "site"))
    if script_dir is not None:
        paths.append(str(script_dir))
    out = {"PYTHONPATH": os.pathsep.join(paths)} if paths else {}
    out.update(THREAD_ENV)
    out.update(
        {
            "HOME": str(scratch),
            "XDG_CACHE_HOME": str(scratch / ".cache"),
            "PYTHONNOUSERSITE": "1",
            # No cwd / script dir ahead of PYTHONPATH: a checkout's scoligait_edge/ (without the
            # export/ and calibration/ mapping) must not shadow the staged tree.
            "PYTHONSAFEPATH": "1",
            "SCOLIGAIT_LANE": name,
            "SCOLIGAIT_LANES_DIR": str(lane_dir()),
        }
    )
    return out


def _lane_env(
    name: str,
    path: Path,
    src: Path | None,
    scratch: Path,
    env: Mapping[str, str] | None,
    script_dir: Path | None = None,
) -> dict[str, str]:
    lane = get_lane(name)
    out = dict(os.environ)
    if lane.emulated and lane.arch != platform.machine():
        for k in _FOREIGN_STRIP:
            out.pop(k, None)
    out.pop("PYTHONHOME", None)
    out.pop("PYTHONPATH", None)
    extra = dict(env or {})
    pythonpath = extra.pop("PYTHONPATH", "").split(os.pathsep)
    out.update(_lane_vars(name, path, src, scratch, pythonpath, script_dir))
    out.update(extra)
    return out


def lane_env(name: str, *, src: Path | None = None, scratch: Path | None = None) -> dict[str, str]:
    """The variables a lane run sets on top of the caller's environment: ``PYTHONPATH`` (staged
    source, + the aarch64 wheels for arm64), ``HOME``/``XDG_CACHE_HOME`` (a scratch dir), one
    thread (:data:`THREAD_ENV`), ``PYTHONSAFEPATH``, ``PYTHONNOUSERSITE``, ``SCOLIGAIT_LANE``."""
    return _lane_vars(name, lane_path(name), src, scratch or Path("$SCRATCH"))


def format_command(name: str, argv: Sequence[str], *, src: Path | None = None) -> str:
    """A copy-pasteable shell line (``env VAR=… qemu-… python ARGV``) for docs and ``--print``."""
    env = lane_env(name, src=src, scratch=Path("/tmp/lane-home"))
    keep = ("PYTHONPATH", "PYTHONSAFEPATH", "HOME", "XDG_CACHE_HOME", "OMP_NUM_THREADS", "SCOLIGAIT_LANE")
    assigns = [f"{k}={shlex.quote(env[k])}" for k in keep if k in env]
    return " ".join(["env", *assigns, shlex.join(lane_command(name, argv))])


def run_in_lane(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    cwd: str | os.PathLike | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``python ARGV…`` in lane ``name``; stdout/stderr captured, never raises on its exit code.

    ``PYTHONPATH`` is the staged current source (+ the aarch64 wheels for arm64; a ``PYTHONPATH``
    in ``env`` goes first), ``HOME``/``XDG_CACHE_HOME`` a scratch dir removed afterwards, one
    thread. Raises :class:`LaneError` with :func:`availability`'s reason when the lane cannot run,
    and :class:`subprocess.TimeoutExpired` after ``timeout`` seconds (the guest is killed).
    """
    lane = get_lane(name)
    ok = availability(name)
    if ok is not True:
        raise LaneError(ok)
    path = lane_path(name)
    if lane.emulated:
        if not _is_current(name):
            build_lane(name)
        _write_cpuinfo(name, path / "root")  # follows this host's CPU count
    src = stage_source()
    tmp_base = lane_dir() / "tmp"
    tmp_base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp_base))
    script_dir = None
    if argv and not str(argv[0]).startswith("-"):  # `python script.py`: its siblings stay importable
        script_dir = (Path(cwd or ".") / argv[0]).resolve().parent
    try:
        return subprocess.run(
            _command(name, path, argv),
            env=_lane_env(name, path, src, scratch, env, script_dir),
            cwd=cwd,
            timeout=timeout,
            capture_output=True,
            text=text,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# command line: python -m scoligait_edge.runtime.lanes build|status|run


def lane_status(name: str) -> dict:
    """A JSON-ready row: availability, where, built when, size, versions."""
    lane = get_lane(name)
    ok = availability(name)
    stamp = read_stamp(name) if lane.emulated else None
    row = {"lane": name, "cpu": lane.cpu, "available": ok is True, "reason": None if ok is True else ok}
    if stamp:
        row.update(
            path=str(lane_path(name)),
            built=stamp.get("built"),
            build_s=stamp.get("build_s"),
            size_mib=round(stamp.get("size_bytes", 0) / 2**20, 1),
            wheels=stamp.get("wheels"),
        )
    return row


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m scoligait_edge.runtime.lanes", description=__doc__.split("\n")[0]
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build and cache lanes (default: every emulated lane)")
    b.add_argument("names", nargs="*", metavar="NAME")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    s = sub.add_parser("status", help="which lanes can run here, and why not")
    s.add_argument("--json", action="store_true")
    r = sub.add_parser("run", help="run `python ARGS…` in a lane: run NAME -- ARGS…")
    r.add_argument("name", metavar="NAME")
    r.add_argument("--print", action="store_true", help="print the command line instead of running it")
    r.add_argument("--timeout", type=float, default=None)
    r.add_argument("args", nargs="*", help="python arguments (after `--` when they start with -)")
    argv = list(sys.argv[1:] if argv is None else argv)
    tail: list[str] = []
    if "--" in argv:  # `run NAME --timeout 60 -- -c CODE`: options before `--`, python's after
        i = argv.index("--")
        argv, tail = argv[:i], argv[i + 1 :]
    a = ap.parse_args(argv)

    if a.cmd == "build":
        names = a.names or [n for n, lane in LANES.items() if lane.emulated]
        failed = 0
        for n in names:
            try:
                t = time.monotonic()
                build_lane(n, progress=lambda m: print(m, file=sys.stderr, flush=True), force=a.force)
                print(f"{n}: ready ({time.monotonic() - t:.1f} s)")
            except (LaneError, ValueError) as exc:
                failed += 1
                print(f"{n}: cannot build: {exc}", file=sys.stderr)
        return 1 if failed else 0
    if a.cmd == "status":
        rows = [lane_status(n) for n in LANES]
        if a.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                extra = f"  {row['size_mib']} MiB, built {row['built']}" if row.get("size_mib") else ""
                state = "ready" if row["available"] else f"unavailable: {row['reason']}"
                print(f"{row['lane']:9} {state}{extra}")
        return 0
    args = [*a.args, *tail]
    if a.print:
        print(format_command(a.name, args, src=stage_source()))
        return 0
    try:
        proc = run_in_lane(a.name, args, timeout=a.timeout)
    except LaneError as exc:
        print(f"lane {a.name} unavailable: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
