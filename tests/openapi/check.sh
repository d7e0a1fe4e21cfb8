#!/usr/bin/env bash
# The REST routes' OpenAPI document against real tools: validated by
# openapi-spec-validator (OpenAPI 3.1), then fuzzed by schemathesis in OpenAPI mode
# against the debug server on the embedded default (SQLite) with a signed-in user:
# no 5xx, every status, header, content type and body as documented, schema-violating
# input refused, auth enforced where the document says so.
#
# The check it leaves out, positive_data_acceptance, expects every schema-valid body
# to be accepted; a server that refuses weak passwords, disposable domains, unknown
# tokens and past expiries cannot meet it, and no schema can say those rules.
#
#   tests/openapi/check.sh [path/to/latchkey]     (default target/debug/latchkey)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${1:-target/debug/latchkey}"
python3 -c 'import schemathesis, openapi_spec_validator' 2>/dev/null ||
  pip install --quiet --disable-pip-version-check -r tests/openapi/requirements.txt

dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
(cd "$dir" && LATCHKEY_LISTEN="127.0.0.1:$port" LATCHKEY_PUBLIC_URL="$base" \
  LATCHKEY_SERVICE_TOKEN="openapi-check-service-token-0123456789" \
  exec "$OLDPWD/$bin" serve >"$dir/server.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done

curl -sf "$base/openapi.json" >"$dir/openapi.json"
python3 - "$dir/openapi.json" <<'PY'
import sys
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
doc, _ = read_from_filename(sys.argv[1])
validate(doc)
print(f"openapi.json: valid OpenAPI {doc['openapi']}, {len(doc['paths'])} paths")
PY

token="$(curl -sf "$base/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"fuzzer@example.com","password":"correct-Horse-battery-9"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

fuzz() {
  schemathesis run "$base/openapi.json" "$@" \
    --checks all --exclude-checks positive_data_acceptance \
    --phases examples,coverage,fuzzing --max-examples 40 \
    --seed 20261204 --no-shrink --workers 1 --warnings off
}
# Every route with a user's token; the service token's one route with that token only
# (a user-token route given only the service token answers 403: a valid credential of
# the wrong kind, as REST.md and the GraphQL directives have it).
fuzz --header "Authorization: Bearer $token" --exclude-path /keys/temporary-key
fuzz --header "X-Service-Token: openapi-check-service-token-0123456789" --include-path /keys/temporary-key

if grep -q "panicked" "$dir/server.log"; then
  echo "the server panicked:" >&2
  grep -A5 panicked "$dir/server.log" >&2
  exit 1
fi
