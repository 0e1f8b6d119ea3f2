#!/usr/bin/env bash
# Soak test: mixed reads and writes at a moderate, paced load on loopback for $DURATION,
# recording errors and the server's resident memory every $SAMPLE. Fails when any request
# fails (HTTP status, socket error or a GraphQL error) or when the resident memory at the
# end is more than $MAX_RSS_GROWTH percent above what it was after the warm-up.
#
# Reads: an interventions page, a page filtered by area, organisations, gaps of a region,
# and now and then a page of overlap findings. Writes: interventions created and deleted again (the data set stays
# the same size, so memory should too), each with the write-time overlap check.
#
# Settings (environment):
#   DATABASE        sqlite (default) or postgres
#   PG_URL          PostgreSQL server for DATABASE=postgres
#                   (postgres://postgres@127.0.0.1:5432/postgres)
#   DEMO_SIZE       interventions loaded first (2000)
#   DURATION        total (10m); SAMPLE: one record every (30s); WARMUP: not judged (60s)
#   CONNECTIONS     concurrent connections (8); RATE: requests per second, all together (50)
#   WRITE_SHARE     percent of requests that write (20)
#   MAX_RSS_GROWTH  percent (20)
#   WORK_DIR        scratch directory (target/soak); CONCORD_BIN: skip the release build
#
# A quick check of the script itself: DURATION=30s SAMPLE=10s WARMUP=10s scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE=${DATABASE:-sqlite}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DEMO_SIZE=${DEMO_SIZE:-2000}
DURATION=${DURATION:-10m}
SAMPLE=${SAMPLE:-30s}
WARMUP=${WARMUP:-60s}
CONNECTIONS=${CONNECTIONS:-8}
RATE=${RATE:-50}
WRITE_SHARE=${WRITE_SHARE:-20}
MAX_RSS_GROWTH=${MAX_RSS_GROWTH:-20}
WORK_DIR=${WORK_DIR:-target/soak}

. scripts/common.sh

# `90`, `90s`, `10m` or `1h` in seconds.
seconds() {
    case $1 in
        *h) echo $((${1%h} * 3600)) ;;
        *m) echo $((${1%m} * 60)) ;;
        *s) echo "${1%s}" ;;
        *) echo "$1" ;;
    esac
}
DURATION_S=$(seconds "$DURATION")
SAMPLE_S=$(seconds "$SAMPLE")
WARMUP_S=$(seconds "$WARMUP")
[ "$SAMPLE_S" -gt 0 ] && [ "$DURATION_S" -gt "$WARMUP_S" ] || die "DURATION must exceed WARMUP"

command -v curl >/dev/null || die "curl is required"
ensure_wrk

mkdir -p "$WORK_DIR"
WORK_DIR=$(cd "$WORK_DIR" && pwd)
concord_binary

SERVER_PID=""
DB_NAME=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    if [ -n "$DB_NAME" ]; then
        psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

case $DATABASE in
    sqlite)
        rm -f "$WORK_DIR"/soak.db*
        DB_URL="sqlite://$WORK_DIR/soak.db"
        ;;
    postgres)
        command -v psql >/dev/null || die "psql is required for DATABASE=postgres"
        DB_NAME="concord_soak_$$"
        psql "$PG_URL" -qAtc "CREATE DATABASE $DB_NAME" >/dev/null
        DB_URL="${PG_URL%/*}/$DB_NAME"
        ;;
    *) die "DATABASE must be sqlite or postgres" ;;
esac

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

log "loading $DEMO_SIZE demo interventions ($DATABASE)"
CONCORD_DATABASE_URL=$DB_URL RUST_LOG=warn "$BIN" demo --size "$DEMO_SIZE" >/dev/null
ADMIN_EMAIL=soak-admin@concord.test
ADMIN_PASSWORD="soak admin password $$"
CONCORD_DATABASE_URL=$DB_URL CONCORD_USER_PASSWORD=$ADMIN_PASSWORD RUST_LOG=warn \
    "$BIN" user add --email "$ADMIN_EMAIL" --role ADMIN >/dev/null

# Emptied first: the loop below must not read a previous run's address.
: >"$WORK_DIR/concord.out"
CONCORD_DATABASE_URL=$DB_URL CONCORD_DATA_DIR=$WORK_DIR/data \
    CONCORD_RATE_LIMIT=0 CONCORD_LOGIN_LIMIT_ACCOUNT=0 CONCORD_LOGIN_LIMIT_IP=0 RUST_LOG=warn \
    "$BIN" serve --bind 127.0.0.1:0 >"$WORK_DIR/concord.out" 2>"$WORK_DIR/concord.err" &
SERVER_PID=$!
await_ready

gql() {
    curl -sf "$address/graphql" -H 'content-type: application/json' ${TOKEN:+-H "Authorization: Bearer $TOKEN"} --data "$1"
}
login() {
    gql "{\"query\":\"mutation(\$e: String!, \$p: String!) { login(email: \$e, password: \$p) { accessToken } }\",\"variables\":{\"e\":\"$ADMIN_EMAIL\",\"p\":\"$ADMIN_PASSWORD\"}}" |
        sed -n 's/.*"accessToken":"\([^"]*\)".*/\1/p'
}
TOKEN=""
TOKEN=$(login)
[ -n "$TOKEN" ] || die "cannot sign in"
ORG=$(gql '{"query":"{ organisations(first: 1) { edges { node { id } } } }"}' |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
# A zone (two levels below the country) for writes and filters, and its region for gaps.
ZONE=$(gql '{"query":"{ areas(filter: { level: 2 }, first: 1) { edges { node { pcode parent { pcode } } } } }"}')
PCODE=$(sed -n 's/.*"node":{"pcode":"\([^"]*\)".*/\1/p' <<<"$ZONE")
REGION=$(sed -n 's/.*"parent":{"pcode":"\([^"]*\)".*/\1/p' <<<"$ZONE")
[ -n "$ORG" ] && [ -n "$PCODE" ] && [ -n "$REGION" ] || die "the demo data has no organisation or zone"

cat >"$WORK_DIR/soak.lua" <<'EOF'
-- Paced mixed load. Each thread keeps the interventions it created and deletes them on
-- later write turns, so the data set stays the same size.
local token = os.getenv("WRK_TOKEN")
local org = os.getenv("SOAK_ORG")
local pcode = os.getenv("SOAK_PCODE")
local region = os.getenv("SOAK_REGION")
local write_share = tonumber(os.getenv("SOAK_WRITE_SHARE"))
local pause_ms = tonumber(os.getenv("SOAK_PAUSE_MS"))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local function body(query, variables)
    return '{"query":"' .. query .. '","variables":' .. (variables or "{}") .. "}"
end

local reads = {
    body("query Page { interventions(first: 20) { edges { node { id title reportingOrganisation { name } sectors { code percentage } } } } }"),
    body("query InArea($a: String!) { interventions(first: 10, filter: { area: $a }) { totalCount edges { node { id title locations { pcode } } } } }",
        '{"a":"' .. pcode .. '"}'),
    body("query Orgs { organisations(first: 20) { edges { node { id name level } } } }"),
    body("query Gaps($a: String!) { gaps(first: 10, filter: { area: $a }) { totalCount edges { node { kind } } } }",
        '{"a":"' .. region .. '"}'),
}
-- Listing findings costs far more than the rest (about half a second each on a
-- 2,000-intervention demo): a few keep it covered without saturating the server.
local overlaps = body("query Overlaps { overlaps(first: 10) { edges { node { score } } } }")

local create_query = "mutation Create($input: InterventionInput!) { createIntervention(input: $input) { intervention { id version } } }"
local delete_query = "mutation Delete($id: ID!, $v: Int!) { deleteIntervention(id: $id, expectedVersion: $v) { deletedId } }"

local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("thread_id", counter)
    table.insert(threads, thread)
end

function init(args)
    created = {}
    sent, failures, creates, deletes, shown = 0, 0, 0, 0, 0
    serial = 0
    math.randomseed(os.time() + thread_id)
end

function delay()
    return pause_ms
end

local function create_body()
    serial = serial + 1
    local input = string.format(
        '{"input":{"externalId":"soak-%d-%d-%d","title":"Soak test water trucking","reportingOrganisationId":"%s",' ..
        '"sectors":[{"vocabulary":"DAC5","code":"14030","percentage":100}],"locations":[{"pcode":"%s","target":500}],' ..
        '"plannedStart":"2025-01-01","plannedEnd":"2025-06-30","status":"IMPLEMENTATION","kind":"RESPONSE",' ..
        '"approach":"PROTECTION","target":{"total":1000}}}',
        thread_id, os.time(), serial, org, pcode)
    return body(create_query, input)
end

function request()
    sent = sent + 1
    local payload
    if math.random(100) <= write_share then
        local last = table.remove(created)
        if last then
            payload = body(delete_query, string.format('{"id":"%s","v":%s}', last[1], last[2]))
        else
            payload = create_body()
        end
    elseif math.random(100) == 1 then
        payload = overlaps
    else
        payload = reads[math.random(#reads)]
    end
    return wrk.format(nil, nil, nil, payload)
end

function response(status, headers, body)
    local failed = status ~= 200 or body:find('"errors"', 1, true)
    if failed then
        failures = failures + 1
        if shown < 3 then
            shown = shown + 1
            io.stderr:write(string.format("soak: failed request (HTTP %d): %s\n", status, body:sub(1, 400)))
        end
        return
    end
    local id, version = body:match('"createIntervention":{"intervention":{"id":"(%d+)","version":(%d+)')
    if id then
        creates = creates + 1
        table.insert(created, { id, version })
    elseif body:find('"deleteIntervention"', 1, true) then
        deletes = deletes + 1
    end
end

function done(summary, latency, requests)
    local failures_total, creates_total, deletes_total, left = 0, 0, 0, 0
    for _, thread in ipairs(threads) do
        failures_total = failures_total + thread:get("failures")
        creates_total = creates_total + thread:get("creates")
        deletes_total = deletes_total + thread:get("deletes")
    end
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d errors=%d creates=%d deletes=%d p50_ms=%.2f p99_ms=%.2f\n",
        summary.requests,
        failures_total + e.connect + e.read + e.write + e.timeout + e.status,
        creates_total, deletes_total,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
EOF

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Each connection waits this long between requests: CONNECTIONS of them make RATE.
PAUSE_MS=$((CONNECTIONS * 1000 / RATE))
THREADS=$((CONNECTIONS < 2 ? CONNECTIONS : 2))

log "soaking $address for $DURATION_S s: $CONNECTIONS connections at ~$RATE req/s, $WRITE_SHARE% writes, a record every $SAMPLE_S s"
printf '%8s %10s %8s %8s %8s %9s %9s %10s\n' elapsed requests errors creates deletes p50_ms p99_ms rss_kb
elapsed=0
total_requests=0
total_errors=0
baseline=""
last_rss=0
max_rss=0
while [ "$elapsed" -lt "$DURATION_S" ]; do
    chunk=$SAMPLE_S
    [ $((elapsed + chunk)) -gt "$DURATION_S" ] && chunk=$((DURATION_S - elapsed))
    # A fresh token per record: an access token lives 15 minutes.
    TOKEN=$(login)
    [ -n "$TOKEN" ] || die "cannot sign in again after $elapsed s"
    output=$(WRK_TOKEN=$TOKEN SOAK_ORG=$ORG SOAK_PCODE=$PCODE SOAK_REGION=$REGION \
        SOAK_WRITE_SHARE=$WRITE_SHARE SOAK_PAUSE_MS=$PAUSE_MS \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${chunk}s" --timeout 10s -s "$WORK_DIR/soak.lua" "$address/graphql")
    elapsed=$((elapsed + chunk))
    line=$(grep '^RESULT' <<<"$output") || die "wrk printed no result: $output"
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server died: $(tail -20 "$WORK_DIR/concord.err")"
    rss=$(rss_kb "$SERVER_PID")
    last_rss=$rss
    [ "$rss" -gt "$max_rss" ] && max_rss=$rss
    total_requests=$((total_requests + $(field requests "$line")))
    total_errors=$((total_errors + $(field errors "$line")))
    printf '%7ss %10s %8s %8s %8s %9s %9s %10s\n' "$elapsed" "$(field requests "$line")" \
        "$(field errors "$line")" "$(field creates "$line")" "$(field deletes "$line")" \
        "$(field p50_ms "$line")" "$(field p99_ms "$line")" "$rss"
    if [ -z "$baseline" ] && [ "$elapsed" -ge "$WARMUP_S" ]; then
        baseline=$rss
    fi
done

growth=$(awk -v a="$last_rss" -v b="$baseline" 'BEGIN { printf "%.1f", (a - b) * 100 / b }')
log "requests $total_requests, errors $total_errors; RSS after warm-up $baseline kB, at the end $last_rss kB ($growth%), peak $max_rss kB"
status=0
if [ "$total_errors" -ne 0 ]; then
    log "FAIL: $total_errors requests failed"
    status=1
fi
if awk -v g="$growth" -v m="$MAX_RSS_GROWTH" 'BEGIN { exit !(g > m) }'; then
    log "FAIL: resident memory grew by $growth% after the warm-up (limit $MAX_RSS_GROWTH%)"
    status=1
fi
[ "$status" -eq 0 ] && log "PASS"
exit "$status"
