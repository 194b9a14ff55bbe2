"""The token-reduction trade-off table: ratios, failure cells, slugs (synthetic rows, no training)."""

from __future__ import annotations

from scoligait_edge.train.tradeoff import VARIANTS, markdown, slug


def _row(auc: float, exports: dict[str, str | None]) -> dict:
    return {
        "tokens_per_block": [22],
        "flops": 5.5e6,
        "student_auc": auc,
        "teacher_auc": 0.916,
        "auc_drop": 0.916 - auc,
        "decision_agreement": 0.921,
        "top10_feature_overlap": 0.598,
        "exports": exports,
    }


def test_table_ratios_come_from_the_same_run_and_failures_say_which_gate() -> None:
    rows = {
        "a": _row(0.916, {"onnx/fp32": None, "onnx/int8": None}),
        "b": _row(0.900, {"onnx/fp32": None, "onnx/int8": "onnx int8 (any) disagrees with its reference: …"}),
        "c": _row(
            0.905, {"onnx/fp32": "Didn't find op for builtin opcode 'STABLEHLO_IOTA'", "onnx/int8": ""}
        ),
    }
    lat = {"teacher/pytorch/fp32": 10.0, "teacher/onnx/fp32": 5.0, "a/onnx/fp32": 0.6, "a/onnx/int8": 0.5}
    lat["b/onnx/fp32"] = 1.0
    md = markdown(rows, lat, ["onnx"])
    lines = {ln.split(" | ")[0].lstrip("| "): ln for ln in md.splitlines() if ln.startswith("| ")}
    assert "| 0.600 | 0.500 | 10.0× | 20.0× |" in lines["a"]  # teacher ORT / INT8, teacher PT / INT8
    assert "+0.000" in lines["a"] and "-0.016" in lines["b"]  # ΔAUC = student − teacher
    assert "| 1.000 | parity ✗ | — | — |" in lines["b"]
    assert "| export ✗ | — | — | — |" in lines["c"]
    assert "Teacher FP32, 1 thread: PyTorch 10.00 ms, ONNX Runtime 5.00 ms" in md


def test_every_variant_has_a_distinct_file_name() -> None:
    slugs = [slug(n) for n in VARIANTS]
    assert len(set(slugs)) == len(slugs) and all(s.replace("-", "").isalnum() for s in slugs)
