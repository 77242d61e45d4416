#!/usr/bin/env bash
# The test suites in two mocha processes side by side, so that one keeps the cores busy while the
# other waits on browsers and spawned processes; then the short chaos run on its own. Each mocha
# process makes its own database and Redis key prefix (test/support/hooks.ts): the lanes never meet.
# The lanes share PostgreSQL's 100 connections: each sizes its systems' pools within its own budget.
# The second lane's output follows the first's.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

pages=(pages patient-status patient-wizard appointment-pages admin-pages receipt-page security-xss)
lane_a=('test/unit/**/*.test.ts' 'test/integration/**/*.test.ts')
for name in "${pages[@]}"; do lane_a+=("test/e2e/$name.test.ts"); done
lane_b=()
for file in test/e2e/*.test.ts; do
  name=$(basename "$file" .test.ts)
  [[ " ${pages[*]} " == *" $name "* ]] || lane_b+=("$file")
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
started=$SECONDS
DATABASE_CONNECTION_BUDGET=44 DATABASE_PROCESSES=8 npx mocha "${lane_b[@]}" >"$log" 2>&1 &
background=$!
DATABASE_CONNECTION_BUDGET=36 DATABASE_PROCESSES=8 npx mocha "${lane_a[@]}"
status_a=$?
seconds_a=$((SECONDS - started))
wait "$background"
status_b=$?
seconds_b=$((SECONDS - started))
echo
echo "── the saga's processes and their faults ──"
cat "$log"

npx mocha 'test/chaos/**/*.test.ts'
status_c=$?
echo "pages, unit and integration: exit $status_a after ${seconds_a} s; processes and faults: exit $status_b after ${seconds_b} s; chaos: exit $status_c after $((SECONDS - started)) s in all"
[[ $status_a -eq 0 && $status_b -eq 0 && $status_c -eq 0 ]]
