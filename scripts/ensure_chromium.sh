#!/usr/bin/env bash
# The report-page test opens report.html in a real headless Chromium. Install Debian's package where we
# can (root with apt); elsewhere the test is skipped with a reason. Quick when already installed.
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the report test (once)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the report rendering test will be skipped"
else
  echo "note: chromium not installed and not root; the report rendering test will be skipped"
fi
exit 0
