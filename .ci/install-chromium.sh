#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser test (tests/html/test_browser.py).
#
# Idempotent: does nothing when /usr/bin/chromium exists. Installs only as root with apt-get
# (apt-get update, then install -y --no-install-recommends chromium). Never fails the caller:
# when it cannot install it says why and exits 0, and the browser test then skips with a reason.
set -u

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-chromium: $CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "install-chromium: not root, cannot install chromium; the browser test will be skipped"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no apt-get on this machine; the browser test will be skipped"
    exit 0
fi

echo "install-chromium: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq; then
    echo "install-chromium: apt-get update failed; the browser test will be skipped"
    exit 0
fi
if ! apt-get install -y -qq --no-install-recommends chromium; then
    echo "install-chromium: apt-get install chromium failed; the browser test will be skipped"
    exit 0
fi
if [ -x "$CHROMIUM" ]; then
    echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
else
    echo "install-chromium: chromium installed but $CHROMIUM is missing; the browser test will be skipped"
fi
exit 0
