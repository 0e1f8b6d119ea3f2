#!/usr/bin/env bash
# Load benchmark: Concord against PostGraphile 4 reading the same PostgreSQL tables.
#
# Builds the release `concord`, loads `concord demo --size $DEMO_SIZE` into a fresh
# PostgreSQL database, serves it, signs in ($ROLE), and measures two queries with wrk at
# $CONNECTIONS connections, twice: as served by default (repeated questions answered from
# the response cache) and with the response cache off:
#   list    a 20-row interventions page with each one's organisation and sectors
#   nested  interventions > locations > area > parent area, about 100 objects
# Then PostGraphile 4 (`--schema public --disable-default-mutations`, no watch, no query
# log) serves the same database and the same two questions, written in its generated
# schema. Prints requests/s, p50 and p99 of each, the ratios, and the resident memory of
# both servers idle and at the peak under load (VmRSS), as JSON on standard output;
# progress goes to standard error.
#
# Settings (environment):
#   PG_URL       a PostgreSQL server where databases may be created
#                (postgres://postgres@127.0.0.1:5432/postgres)
#   DEMO_SIZE    interventions generated (100000)
#   DURATION     each wrk run (30s)
#   CONNECTIONS  concurrent connections (32)
#   THREADS      wrk threads (2)
#   ROLE         who signs in (VIEWER, of the first demo organisation): ADMIN reads every
#                RESTRICTED record, and each such read by an outsider is written to the
#                audit trail, so an ADMIN run measures audit writes too
#   POOL         database connections of each server (16)
#   CACHE_MB     Concord's response cache in the first run (64, the default); a second
#                run always measures Concord with it off, every request computed
#   WORK_DIR     scratch directory, PostGraphile's install is kept there (target/bench-load)
#   CONCORD_BIN  use this binary instead of building target/release/concord
#   KEEP_DB=1    keep the database afterwards
#
# The load generator runs on the same machine: on a small one it takes a share of the
# CPU from the server it measures, the same share for both servers.
#
# A quick check of the script itself: DEMO_SIZE=2000 DURATION=3s scripts/bench-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DEMO_SIZE=${DEMO_SIZE:-100000}
DURATION=${DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROLE=${ROLE:-VIEWER}
POOL=${POOL:-16}
CACHE_MB=${CACHE_MB:-64}
WORK_DIR=${WORK_DIR:-target/bench-load}
KEEP_DB=${KEEP_DB:-0}

. scripts/common.sh

for tool in psql curl node npm; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
ensure_wrk

mkdir -p "$WORK_DIR"
WORK_DIR=$(cd "$WORK_DIR" && pwd)

concord_binary

DB_NAME="concord_bench_$$"
DB_URL="${PG_URL%/*}/$DB_NAME"
SERVER_PID=""
SAMPLER_PID=""

cleanup() {
    [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    if [ "$KEEP_DB" != 1 ]; then
        psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    else
        log "kept the database $DB_URL"
    fi
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# Samples a process's VmRSS every half second into a file until killed.
sample_rss() {
    local pid=$1 out=$2
    : >"$out"
    while kill -0 "$pid" 2>/dev/null; do
        rss_kb "$pid" >>"$out"
        sleep 0.5
    done
}

max_of() { sort -n "$1" | tail -1; }

# Objects in a JSON answer: one `{` each (strings here hold no braces).
objects_in() { tr -cd '{' <"$1" | wc -c | tr -d ' '; }

log "creating the database $DB_NAME"
psql "$PG_URL" -qAtc "CREATE DATABASE $DB_NAME" >/dev/null

log "loading the demo data ($DEMO_SIZE interventions)"
demo_started=$(date +%s)
CONCORD_DATABASE_URL=$DB_URL RUST_LOG=warn "$BIN" demo --size "$DEMO_SIZE" >&2
demo_seconds=$(($(date +%s) - demo_started))
psql "$DB_URL" -qAtc "ANALYZE" >/dev/null

ADMIN_EMAIL=bench-admin@concord.test
ADMIN_PASSWORD="bench admin password $$"
CONCORD_DATABASE_URL=$DB_URL CONCORD_USER_PASSWORD=$ADMIN_PASSWORD RUST_LOG=warn \
    "$BIN" user add --email "$ADMIN_EMAIL" --role "$ROLE" $([ "$ROLE" = ADMIN ] || echo --organisation 1) >/dev/null

# ----------------------------------------------------------------------------------------
# The queries. Both servers page by primary key and read every row.

cat >"$WORK_DIR/concord-list.json" <<'EOF'
{"query":"query List { interventions(first: 20) { edges { node { id title status plannedStart plannedEnd reportingOrganisation { id name } sectors { vocabulary code percentage } } } } }"}
EOF
cat >"$WORK_DIR/concord-nested.json" <<'EOF'
{"query":"query Nested { interventions(first: 18) { edges { node { id title locations { pcode target area { pcode name parent { pcode name } } } } } } }"}
EOF
cat >"$WORK_DIR/postgraphile-list.json" <<'EOF'
{"query":"query List { allInterventions(first: 20, orderBy: PRIMARY_KEY_ASC) { nodes { id title status plannedStart plannedEnd organisationByReportingOrganisationId { id name } interventionSectorsByInterventionId(orderBy: PRIMARY_KEY_ASC) { nodes { vocabulary code percentage } } } } }"}
EOF
cat >"$WORK_DIR/postgraphile-nested.json" <<'EOF'
{"query":"query Nested { allInterventions(first: 18, orderBy: PRIMARY_KEY_ASC) { nodes { id title interventionLocationsByInterventionId(orderBy: PRIMARY_KEY_ASC) { nodes { target areaByAreaId { pcode name areaByParentId { pcode name } } } } } } }"}
EOF

cat >"$WORK_DIR/post.lua" <<'EOF'
-- POSTs one GraphQL document; counts answers carrying GraphQL errors.
local f = assert(io.open(os.getenv("WRK_BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("WRK_TOKEN") or ""
if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}
function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    graphql_errors = 0
end

function response(status, headers, body)
    if body and body:find('"errors"', 1, true) then
        graphql_errors = graphql_errors + 1
    end
end

function done(summary, latency, requests)
    local errors = 0
    for _, thread in ipairs(threads) do
        errors = errors + (thread:get("graphql_errors") or 0)
    end
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
        summary.requests,
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000,
        latency:percentile(99) / 1000,
        errors + e.status + e.connect + e.read + e.write + e.timeout))
end
EOF

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# run_load NAME URL BODY TOKEN PID: one wrk run; sets RESULT_JSON and adds to PEAK_RSS.
run_load() {
    local name=$1 url=$2 body=$3 token=$4 pid=$5
    local answer="$WORK_DIR/$name.answer.json"
    local auth=()
    [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
    curl -sf "$url" -H 'content-type: application/json' "${auth[@]}" --data @"$body" >"$answer" ||
        die "$name: the query failed"
    if grep -q '"errors"' "$answer"; then
        die "$name: the query answered errors: $(head -c 600 "$answer")"
    fi
    local objects
    objects=$(objects_in "$answer")
    # A short warm-up, then the measured run.
    WRK_BODY=$body WRK_TOKEN=$token wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$WORK_DIR/post.lua" "$url" >/dev/null
    sample_rss "$pid" "$WORK_DIR/$name.rss" &
    SAMPLER_PID=$!
    local output
    output=$(WRK_BODY=$body WRK_TOKEN=$token wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s "$WORK_DIR/post.lua" "$url")
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=""
    local line
    line=$(grep '^RESULT' <<<"$output") || die "$name: wrk printed no result: $output"
    local peak
    peak=$(max_of "$WORK_DIR/$name.rss")
    [ "${peak:-0}" -gt "$PEAK_RSS" ] && PEAK_RSS=$peak
    local errors
    errors=$(field errors "$line")
    [ "$errors" -eq 0 ] || FAILED=1
    log "$(printf '  %-20s %10s req/s   p50 %8s ms   p99 %8s ms   %s objects   %s errors' \
        "$name" "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" "$objects" "$errors")"
    RESULT_JSON=$(printf '{"requests": %s, "rps": %s, "p50_ms": %s, "p99_ms": %s, "errors": %s, "objects": %s}' \
        "$(field requests "$line")" "$(field rps "$line")" "$(field p50_ms "$line")" \
        "$(field p99_ms "$line")" "$errors" "$objects")
}

FAILED=0

# ----------------------------------------------------------------------------------------
# run_concord NAME CACHE_MB: serves the database with the given response cache (0: off),
# measures both queries; sets CONCORD_LIST, CONCORD_NESTED, CONCORD_IDLE and CONCORD_PEAK.
run_concord() {
    local name=$1 cache_mb=$2
    log "starting concord serve ($name, response cache ${cache_mb} MiB)"
    # Emptied first: the loop below must not read a previous run's address.
    : >"$WORK_DIR/concord.out"
    # Both servers talk to PostgreSQL over loopback without TLS (PostGraphile's default;
    # sqlx would otherwise negotiate TLS, which costs a quarter of Concord's CPU here).
    CONCORD_DATABASE_URL="$DB_URL?sslmode=disable" CONCORD_DATA_DIR=$WORK_DIR/data CONCORD_DATABASE_POOL=$POOL \
        CONCORD_RATE_LIMIT=0 CONCORD_LOGIN_LIMIT_ACCOUNT=0 CONCORD_LOGIN_LIMIT_IP=0 RUST_LOG=warn \
        CONCORD_RESPONSE_CACHE_MB=$cache_mb \
        "$BIN" serve --bind 127.0.0.1:0 >"$WORK_DIR/concord.out" 2>"$WORK_DIR/concord.err" &
    SERVER_PID=$!
    await_ready

    TOKEN=$(login)
    [ -n "$TOKEN" ] || die "cannot sign in to concord"
    # The coverage index builds in the background at start; idle means after it.
    sleep 2
    CONCORD_IDLE=$(rss_kb "$SERVER_PID")

    log "$name ($DEMO_SIZE interventions, $CONNECTIONS connections, $DURATION per query)"
    PEAK_RSS=0
    run_load "$name-list" "$address/graphql" "$WORK_DIR/concord-list.json" "$TOKEN" "$SERVER_PID"
    CONCORD_LIST=$RESULT_JSON
    # Sign in again: an access token lives 15 minutes, the runs may take longer.
    TOKEN=$(login)
    run_load "$name-nested" "$address/graphql" "$WORK_DIR/concord-nested.json" "$TOKEN" "$SERVER_PID"
    CONCORD_NESTED=$RESULT_JSON
    CONCORD_PEAK=$PEAK_RSS
    kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

login() {
    curl -sf "$address/graphql" -H 'content-type: application/json' --data \
        "{\"query\":\"mutation(\$e: String!, \$p: String!) { login(email: \$e, password: \$p) { accessToken } }\",\"variables\":{\"e\":\"$ADMIN_EMAIL\",\"p\":\"$ADMIN_PASSWORD\"}}" |
        sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p'
}

# As served by default: a repeated question from the same caller is answered from the
# response cache until something is written.
run_concord concord "$CACHE_MB"
concord_list=$CONCORD_LIST concord_nested=$CONCORD_NESTED
concord_idle=$CONCORD_IDLE concord_peak=$CONCORD_PEAK
# Every request computed: what a first question, or one after a write, costs.
run_concord concord-uncached 0
uncached_list=$CONCORD_LIST uncached_nested=$CONCORD_NESTED
uncached_idle=$CONCORD_IDLE uncached_peak=$CONCORD_PEAK

# ----------------------------------------------------------------------------------------
PGL_DIR=$WORK_DIR/postgraphile
if [ ! -x "$PGL_DIR/node_modules/.bin/postgraphile" ]; then
    log "installing PostGraphile 4"
    mkdir -p "$PGL_DIR"
    npm install --prefix "$PGL_DIR" --no-audit --no-fund --loglevel=error postgraphile@4 >&2
fi
pgl_port=$(free_port)
log "starting PostGraphile on port $pgl_port"
"$PGL_DIR/node_modules/.bin/postgraphile" --connection "$DB_URL" --schema public \
    --disable-default-mutations --disable-query-log --disable-graphiql \
    --host 127.0.0.1 --port "$pgl_port" --max-pool-size "$POOL" \
    >"$WORK_DIR/postgraphile.out" 2>&1 &
SERVER_PID=$!
pgl_url="http://127.0.0.1:$pgl_port/graphql"
for _ in $(seq 1 600); do
    curl -sf "$pgl_url" -H 'content-type: application/json' --data '{"query":"{__typename}"}' >/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "PostGraphile stopped: $(cat "$WORK_DIR/postgraphile.out")"
    sleep 0.2
done
sleep 1
pgl_idle=$(rss_kb "$SERVER_PID")

log "PostGraphile 4"
PEAK_RSS=0
run_load postgraphile-list "$pgl_url" "$WORK_DIR/postgraphile-list.json" "" "$SERVER_PID"
pgl_list=$RESULT_JSON
run_load postgraphile-nested "$pgl_url" "$WORK_DIR/postgraphile-nested.json" "" "$SERVER_PID"
pgl_nested=$RESULT_JSON
pgl_peak=$PEAK_RSS
kill "$SERVER_PID" && wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

# ----------------------------------------------------------------------------------------
json_field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "null"; else printf "%.2f", a / b }'; }
ratios() {
    printf '{"rps": %s, "p50": %s, "p99": %s}' \
        "$(ratio "$(json_field rps "$1")" "$(json_field rps "$2")")" \
        "$(ratio "$(json_field p50_ms "$1")" "$(json_field p50_ms "$2")")" \
        "$(ratio "$(json_field p99_ms "$1")" "$(json_field p99_ms "$2")")"
}

cat <<EOF
{
  "demo_size": $DEMO_SIZE,
  "demo_load_seconds": $demo_seconds,
  "duration": "$DURATION",
  "connections": $CONNECTIONS,
  "wrk_threads": $THREADS,
  "pool": $POOL,
  "cpus": $(nproc),
  "concord": {
    "list": $concord_list,
    "nested": $concord_nested,
    "rss_idle_kb": $concord_idle,
    "rss_peak_under_load_kb": $concord_peak
  },
  "concord_uncached": {
    "list": $uncached_list,
    "nested": $uncached_nested,
    "rss_idle_kb": $uncached_idle,
    "rss_peak_under_load_kb": $uncached_peak
  },
  "postgraphile": {
    "list": $pgl_list,
    "nested": $pgl_nested,
    "rss_idle_kb": $pgl_idle,
    "rss_peak_under_load_kb": $pgl_peak
  },
  "concord_over_postgraphile": {
    "list": $(ratios "$concord_list" "$pgl_list"),
    "nested": $(ratios "$concord_nested" "$pgl_nested")
  },
  "concord_uncached_over_postgraphile": {
    "list": $(ratios "$uncached_list" "$pgl_list"),
    "nested": $(ratios "$uncached_nested" "$pgl_nested")
  }
}
EOF
[ "$FAILED" -eq 0 ] || die "some requests failed (see the errors counts)"
