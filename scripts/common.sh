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

# Sets address once the `concord serve` started as SERVER_PID, writing to
# $WORK_DIR/concord.out and .err, has printed where it listens and answers /readyz.
await_ready() {
    address=""
    for _ in $(seq 1 600); do
        address=$(sed -n 's/^concord listening on //p' "$WORK_DIR/concord.out")
        [ -n "$address" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "concord serve stopped: $(cat "$WORK_DIR/concord.err")"
        sleep 0.1
    done
    [ -n "$address" ] || die "concord serve printed no address"
    for _ in $(seq 1 600); do
        curl -sf "$address/readyz" >/dev/null && break
        sleep 0.2
    done
    curl -sf "$address/readyz" >/dev/null || die "concord did not become ready at $address"
}
