# Headless Chromium for the report's browser test (tests/test_screen_report.py, marked slow).
# Debian's package; where it cannot be installed the test skips and says why.
.PHONY: browser
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1) || echo "note: could not install chromium; the report's browser test will skip"
