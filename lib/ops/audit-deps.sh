#!/usr/bin/env bash
# npm audit of the production dependencies: fails on a high or critical advisory. A registry that
# does not answer audit requests cannot be checked: that is said plainly, and is not a failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

report="$(npm audit --omit=dev --json 2>/dev/null)"
node --input-type=module -e '
const report = JSON.parse(process.argv[1] || "{}");
if (!report.metadata) {
  console.log(`npm audit: the registry gave no advisories (${report.statusCode ?? "no answer"}: ${report.message ?? "unknown"}); not checked`);
  process.exit(0);
}
const { high = 0, critical = 0, total = 0 } = report.metadata.vulnerabilities ?? {};
console.log(`npm audit --omit=dev: ${total} advisories, ${high} high, ${critical} critical`);
process.exit(high + critical > 0 ? 1 : 0);
' "$report"
