#!/usr/bin/env bash
# Multi-user mode with the server as root: the local Ray head runs as ASSAY_RAY_USER (default
# assay-ray), which must be able to run the server's interpreter and import Assay and Ray.
# Creates that system user and lets it (alone, by an ACL) traverse the folders above the
# interpreter and its packages, such as a 0700 /root holding pyenv; nothing is made readable.
# Usage: scripts/prepare_ray_user.sh [PYTHON]   (a no-op when not run as root)
set -euo pipefail
user="${ASSAY_RAY_USER:-assay-ray}"
python="${1:-.venv/bin/python}"
if [ "$(id -u)" != 0 ]; then
    echo "prepare_ray_user: not root, nothing to do"
    exit 0
fi
id "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
if ! command -v setfacl >/dev/null; then
    apt-get install -y -q acl >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q acl >/dev/null; }
fi
paths=$("$python" -c 'import os, sys, assay, ray
print("\n".join({os.path.realpath(sys.executable), os.path.dirname(assay.__file__), *filter(os.path.isdir, sys.path)}))')
for path in $paths; do
    dir=$path
    while [ "$dir" != / ]; do
        dir=$(dirname "$dir")
        others=$(stat -c %A "$dir")
        case "${others:9:1}" in
            x | t) ;;
            *) setfacl -m "u:$user:x" "$dir" ;;
        esac
    done
done
echo "prepare_ray_user: $user can run $python"
