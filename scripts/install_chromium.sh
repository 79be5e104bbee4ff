#!/usr/bin/env bash
# Installs Debian's Chromium for the browser-attack test (Playwright drives it through
# executable_path; Playwright's own browser download needs a host this environment cannot
# reach). Safe to run again.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_chromium: /usr/bin/chromium is missing and apt-get needs root" >&2
    exit 1
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
