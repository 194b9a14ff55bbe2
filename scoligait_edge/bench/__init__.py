"""Benchmark harness behind `scoligait-edge bench` (timing, parity, regression gate)."""
