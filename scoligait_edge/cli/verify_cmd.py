"""CLI command ``verify``: run a bundle's golden vectors here or in emulated device lanes."""

from __future__ import annotations

from pathlib import Path

import typer

from scoligait_edge.cli import app


@app.command("verify")
def verify_cmd(
    bundle: Path = typer.Argument(..., help="Bundle directory written by `scoligait-edge export`."),
    lane: str = typer.Option(
        "native",
        "--lane",
        help="native | x86-avx2 (qemu Haswell) | arm64 (qemu Cortex-A76) | all — comma-separated allowed.",
    ),
    device_info: bool = typer.Option(
        False, "--device-info", help="Also print this machine's CPU and runtimes."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the reports (one per lane) as JSON."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
) -> None:
    """Check a bundle on this CPU (or an emulated one): golden vectors vs reference and expected outputs."""
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from scoligait_edge.errors import ParityError
    from scoligait_edge.fileio import atomic_write_text, check_can_write
    from scoligait_edge.runtime import device
    from scoligait_edge.runtime.verify import lane_names, summary_lines, verify_in_lane

    if json_out is not None:
        check_can_write(json_out, force)
    names = lane_names(lane)
    console = Console(highlight=False, width=max(Console().width, 150))
    if device_info:
        console.print(f"this machine: {device.describe()}", markup=False)
    reports = []
    for name in names:
        with Console(stderr=True).status(f"verifying in lane {name}…"):
            rep = verify_in_lane(bundle, name)
        reports.append(rep)
        if "checks" in rep and len(names) == 1:
            for line in summary_lines(rep):
                console.print(line, markup=False)
    if len(names) > 1 or not reports[0].get("checks"):
        table = Table(title=f"verify {bundle}")
        for c in ("lane", "cpu class", "ran", "result", "max |Δlogit| vs expected", "why"):
            table.add_column(c, overflow="fold")
        for r in reports:
            exp = r.get("checks", {}).get("vs_expected", {}).get("outputs", {})
            gap = exp.get("referral_logit", {}).get("max_abs")
            result = "skipped" if r.get("passed") is None else ("PASS" if r["passed"] else "FAIL")
            why = r.get("skipped") or r.get("error") or "; ".join(r.get("failures", [])[:2])
            table.add_row(
                *(
                    escape(str(c))
                    for c in (
                        r["lane"],
                        (r.get("cpu") or {}).get("device_class", "?"),
                        r.get("ran", ""),
                        result,
                        "" if gap is None else f"{gap:.3g}",
                        why or "",
                    )
                )
            )
        console.print(table)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(reports, indent=2, default=str) + "\n", force=force)
    failed = [r["lane"] for r in reports if r.get("passed") is False]
    if failed:
        first = next(r for r in reports if r.get("passed") is False)
        why = first.get("error") or "; ".join(first.get("failures", []))[:300]
        raise ParityError(
            f"bundle {bundle.name} fails its golden vectors in lane(s) {', '.join(failed)}: {why}",
            "re-export it for this device class (--device) or with the portable recipe (--device any)",
        )
    if all(r.get("passed") is None for r in reports):
        from scoligait_edge.errors import UnavailableError

        raise UnavailableError(
            f"bundle {bundle.name} could not be verified in any lane: {reports[0].get('skipped')}",
            "run it on a machine with its runtime, or build the lanes with `make lanes`",
        )
