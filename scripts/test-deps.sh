#!/usr/bin/env bash
# Installs what the export tests call outside cargo: the Python `stix2` library (the STIX 2.1
# bundle is parsed by it) and a headless Chromium (the HTML report is screenshotted).
# Idempotent and quick when both are already there.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

python=${PYTHON:-python3}
if ! "$python" -c 'import stix2' 2>/dev/null; then
    echo "test-deps: installing the Python stix2 library" >&2
    # A Debian system Python refuses plain pip installs (PEP 668); retry with the flag it asks for.
    "$python" -m pip install --quiet stix2 \
        || "$python" -m pip install --quiet --break-system-packages stix2
    "$python" -c 'import stix2'
fi

# moto's S3 server: the CloudTrail trail-file collector's tests (crates/collect/tests/s3_trail.rs)
# run it on 127.0.0.1.
if ! "$python" -c 'import moto.server' 2>/dev/null; then
    echo "test-deps: installing moto's server" >&2
    "$python" -m pip install --quiet 'moto[server]' \
        || "$python" -m pip install --quiet --break-system-packages 'moto[server]'
    "$python" -c 'import moto.server'
fi

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
    echo "test-deps: installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y --no-install-recommends chromium; then
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends chromium
    fi
fi
