"""Export targets: one backend module per target (imported as scoligait_edge.export)."""
