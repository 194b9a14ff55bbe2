"""INT8 calibration sets and backend readers (imported as scoligait_edge.calibration)."""
