#!/usr/bin/env bash
# Installs what compiling skein needs beyond the Rust toolchain: OpenSSL's headers and
# pkg-config (azure_identity's client-certificate credential signs with OpenSSL).
# Idempotent; does nothing when they are already there.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openssl 2>/dev/null; then
    echo "build-deps: installing pkg-config and libssl-dev" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y --no-install-recommends pkg-config libssl-dev; then
        as_root apt-get update
        as_root apt-get install -y --no-install-recommends pkg-config libssl-dev
    fi
fi
