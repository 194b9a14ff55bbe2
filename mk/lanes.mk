# Emulated device lanes (qemu user mode): x86-avx2 (Haswell: AVX2, no AVX-512/VNNI) and arm64
# (Cortex-A76 with Debian's aarch64 CPython + aarch64 onnxruntime/ai-edge-litert/numpy wheels).
# Built once and cached under .venv/share/scoligait-edge/lanes/ (override: SCOLIGAIT_LANES_DIR);
# a second `make lanes` only checks the stamps. Lane tests skip with the stated reason where a
# lane cannot be built. See docs/lanes.md.
.PHONY: lanes lanes-status

lanes: setup
	@(command -v qemu-x86_64 >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null 2>&1) || \
	  (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user >/dev/null 2>&1) || \
	  echo "note: could not install qemu-user (apt-get install qemu-user); emulated-lane tests will skip with the reason"
	@$(BIN)/python -m scoligait_edge.runtime.lanes build || \
	  echo "note: a lane did not build (reason above; \`$(BIN)/python -m scoligait_edge.runtime.lanes status\`); its tests will skip with that reason"

lanes-status: setup
	@$(BIN)/python -m scoligait_edge.runtime.lanes status
