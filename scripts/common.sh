# Shared by the benchmark scripts: messages, the load tool and the binary under test.

log() { printf '%s\n' "$*" >&2; }
die() { log "$(basename "$0" .sh): $*"; exit 1; }

# wrk, from Debian's packages when it is missing.
ensure_wrk() {
    command -v wrk >/dev/null && return
    log "installing wrk"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y wrk >/dev/null 2>&1 ||
        { $sudo apt-get update >/dev/null && $sudo apt-get install -y wrk >/dev/null; } ||
        die "cannot install wrk"
}

# Sets BIN: $CONCORD_BIN when given, else a fresh release build.
concord_binary() {
    if [ -n "${CONCORD_BIN:-}" ]; then
        BIN=$CONCORD_BIN
    else
        log "building the release binary"
        cargo build --release -p concord >&2
        BIN=$PWD/target/release/concord
    fi
}
