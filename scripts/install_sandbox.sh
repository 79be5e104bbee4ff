#!/usr/bin/env bash
# Script jobs run their command in a bubblewrap sandbox (assay/jobs/sandbox.py) when `bwrap`
# is installed and user namespaces are allowed; this installs it from apt where it is missing.
set -euo pipefail
if command -v bwrap >/dev/null; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install_sandbox: install bubblewrap (bwrap) to sandbox script jobs"
    exit 0
fi
apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }
