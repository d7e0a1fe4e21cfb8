#!/usr/bin/env bash
# Refreshes the vendored GraphiQL page assets from the npm registry, at pinned versions.
#
#   assets/graphiql/refresh.sh          (from anywhere; needs node, npm, tar)
#
# For each package: `npm pack <name>@<version>` into a temp dir, check the tarball's
# sha512 against the registry's dist.integrity, extract only the files we serve, and
# write them (plus the package's LICENSE) next to this script. VERSIONS records name,
# version and integrity, one line per package. The files are copied byte for byte
# (graphiql.min.js keeps its `//# sourceMappingURL=` comment; the map is not vendored,
# browsers fetch it only with the developer tools open).
#
# To move to other versions: change the variables below, run this script, review the diff
# (`git diff --stat assets/graphiql`), and check the page in a browser
# (node tests/browser/graphiql.mjs).
set -euo pipefail

GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.3.1
REACT_DOM_VERSION=18.3.1

dest="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-graphiql-refresh.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# `npm view` and `npm pack` of the user's configured registry (the public one by default).
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

versions=""

# fetch NAME VERSION SRC:DEST_NAME...
#   Packs NAME@VERSION, checks its integrity, copies package/SRC to $dest/DEST_NAME.
fetch() {
  local name="$1" version="$2"
  shift 2
  local expected tgz actual dir
  expected="$(npm view "${name}@${version}" dist.integrity)"
  if [[ "$expected" != sha512-* ]]; then
    echo "error: ${name}@${version}: the registry's dist.integrity is not sha512: '${expected}'" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tgz="$(cd "$work/$name" && npm pack --silent "${name}@${version}" | tail -n 1)"
  tgz="$work/$name/$tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w 0)"
  if [[ "$actual" != "$expected" ]]; then
    echo "error: ${name}@${version}: integrity mismatch" >&2
    echo "  registry: $expected" >&2
    echo "  tarball:  $actual" >&2
    exit 1
  fi
  dir="$work/$name/x"
  mkdir -p "$dir"
  tar -xzf "$tgz" -C "$dir"
  # The tarball's own package.json must name the version we asked for.
  local packed
  packed="$(node -p 'require(process.argv[1]).version' "$dir/package/package.json")"
  if [[ "$packed" != "$version" ]]; then
    echo "error: ${name}@${version}: the tarball's package.json says version ${packed}" >&2
    exit 1
  fi
  local pair src out
  for pair in "$@"; do
    src="${pair%%:*}"
    out="${pair#*:}"
    if [[ ! -f "$dir/package/$src" ]]; then
      echo "error: ${name}@${version}: no ${src} in the tarball" >&2
      exit 1
    fi
    install -m 0644 "$dir/package/$src" "$dest/$out"
    printf '  %-32s %9d bytes  (%s@%s %s)\n' "$out" "$(wc -c <"$dest/$out")" "$name" "$version" "$src"
  done
  versions+="${name} ${version} ${expected}"$'\n'
}

echo "writing to $dest"
fetch graphiql "$GRAPHIQL_VERSION" \
  graphiql.min.js:graphiql.min.js \
  graphiql.min.css:graphiql.min.css \
  LICENSE:LICENSE.graphiql
fetch react "$REACT_VERSION" \
  umd/react.production.min.js:react.production.min.js \
  LICENSE:LICENSE.react
fetch react-dom "$REACT_DOM_VERSION" \
  umd/react-dom.production.min.js:react-dom.production.min.js \
  LICENSE:LICENSE.react-dom

printf '%s' "$versions" >"$dest/VERSIONS"
echo "VERSIONS:"
sed 's/^/  /' "$dest/VERSIONS"
total="$(cat "$dest"/graphiql.min.js "$dest"/graphiql.min.css "$dest"/react.production.min.js \
  "$dest"/react-dom.production.min.js | wc -c)"
echo "vendored scripts and styles: ${total} bytes in total"
