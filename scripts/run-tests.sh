#!/bin/sh
# shellcheck disable=SC2086  # the two lists of test paths are split into words on purpose
# The suite in two halves side by side (`make test`; `make test-db` runs the database tests the
# same way when DIALFUNNEL_TEST_DATABASE_URL2 names a second database, and splits the web half
# in two when DIALFUNNEL_TEST_DATABASE_URL3 names a third): the tests wait on
# sockets, browsers and the simulators' clocks more than they compute. Each half has its own
# data folder; the output of each is printed when both are done; the exit code fails if
# either half fails. Usage: scripts/run-tests.sh PYTHON [pytest arguments...]
set -u
python=$1
shift
base=${DIALFUNNEL_DATA_DIR:-var}
web="tests/admin tests/browser tests/dialfunnel tests/messaging tests/faxdocs"
other=""
for path in tests/*/ tests/test_*.py; do
    case "$path" in
        tests/admin/|tests/browser/|tests/dialfunnel/|tests/messaging/|tests/faxdocs/) ;;
        tests/fixtures/|tests/__pycache__/) ;;
        *) other="$other $path" ;;
    esac
done
logs=$(mktemp -d)
if [ -n "${DIALFUNNEL_TEST_DATABASE_URL:-}" ] && [ -z "${DIALFUNNEL_TEST_DATABASE_URL2:-}" ]; then
    # one database: the halves one after the other (they would truncate each other's tables)
    DIALFUNNEL_DATA_DIR="$base/tests-a" "$python" -m pytest -q "$@" $web; a=$?
    DIALFUNNEL_DATA_DIR="$base/tests-b" "$python" -m pytest -q "$@" $other; b=$?
    [ "$a" -eq 0 ] && [ "$b" -eq 0 ]
    exit
fi
third=""
if [ -n "${DIALFUNNEL_TEST_DATABASE_URL3:-}" ]; then
    # a third database: the web half in two (PostgreSQL's web tests were the longest part),
    # the lighter one also taking the recordings and IVR tests from the other half
    DIALFUNNEL_TEST_DATABASE_URL=$DIALFUNNEL_TEST_DATABASE_URL3 DIALFUNNEL_DATA_DIR="$base/tests-c" \
        "$python" -m pytest -q "$@" tests/admin > "$logs/c.log" 2>&1 &
    third=$!
    web="tests/browser tests/dialfunnel tests/messaging tests/faxdocs tests/recordings/ tests/ivr_flows/"
    other=$(printf '%s\n' $other | grep -v -e '^tests/recordings/$' -e '^tests/ivr_flows/$' | tr '\n' ' ')
fi
DIALFUNNEL_DATA_DIR="$base/tests-a" "$python" -m pytest -q "$@" $web > "$logs/a.log" 2>&1 &
first=$!
if [ -n "${DIALFUNNEL_TEST_DATABASE_URL2:-}" ]; then
    DIALFUNNEL_TEST_DATABASE_URL=$DIALFUNNEL_TEST_DATABASE_URL2
    export DIALFUNNEL_TEST_DATABASE_URL
fi
DIALFUNNEL_DATA_DIR="$base/tests-b" "$python" -m pytest -q "$@" $other > "$logs/b.log" 2>&1 &
second=$!
wait "$first"; a=$?
wait "$second"; b=$?
c=0
if [ -n "$third" ]; then
    wait "$third"; c=$?
    echo "== tests/admin: exit $c"; cat "$logs/c.log"
fi
echo "== $web: exit $a"; cat "$logs/a.log"
echo "== $other: exit $b"; cat "$logs/b.log"
rm -rf "$logs"
[ "$a" -eq 0 ] && [ "$b" -eq 0 ] && [ "$c" -eq 0 ]
