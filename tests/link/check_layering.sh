#!/usr/bin/env bash
# Fails when a layer includes what STYLE.md §1 forbids it.
set -u
root=${1:-.}
cd "$root" || exit 2
bad=0
check() { # folder, forbidden-regex, exclude-regex
  local hits
  hits=$(grep -rnE "#include *[<\"]($2)" "$1" --include='*.hpp' --include='*.cpp' 2>/dev/null | grep -vE "${3:-^$}")
  if [ -n "$hits" ]; then
    echo "layering violation in $1 (must not include $2):"
    echo "$hits"
    bad=1
  fi
}
check runtime 'caf/|boost/|rocksdb/|nlohmann/|spdlog/' '^runtime/storage/'
check runtime/storage 'caf/|boost/'
check actors 'boost/beast|nlohmann/'
check net 'rocksdb/'
# net reaches shards only through the primitives' clients, never by routing
# them itself.
check net 'actors/cluster/'
check examples '.*/detail/'
# caf/all.hpp is too heavy for any header.
hits=$(grep -rln 'caf/all.hpp' runtime actors net cmd --include='*.hpp' 2>/dev/null)
[ -n "$hits" ] && { echo "caf/all.hpp included from headers: $hits"; bad=1; }
[ $bad -eq 0 ] && echo "layering ok"
exit $bad
