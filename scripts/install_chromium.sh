#!/usr/bin/env bash
# Installs Debian's Chromium for the HTML report test (Playwright drives /usr/bin/chromium;
# Playwright's own browser download needs a host this environment cannot reach). Safe to run
# again: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_chromium: /usr/bin/chromium is missing and apt-get needs root (sudo apt-get install chromium)" >&2
    exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
echo "Chromium installed at /usr/bin/chromium"
