#!/usr/bin/env bash
# regen_golden.sh: regenerates the HTTP/1.1 golden traces (tests/data/http1/NNN-name.trace) from
# their raw request streams (NNN-name.http) with lancet-trace. On purpose, never silently
# (STYLE.md §11.7): without --write it only shows what would change; with --write it rewrites
# the changed traces and names each one. Review every changed trace against RFC 9110/9112
# before committing it: a trace records what the parser SHOULD do, not just what it does.
#
#   tools/regen_golden.sh [build-dir]              # show diffs only (exit 1 if any differ)
#   tools/regen_golden.sh --write [build-dir]      # rewrite the traces that differ
#   tools/regen_golden.sh --write [build-dir] -- 042-name 117-other   # only these cases
#
# build-dir defaults to ./build; it must contain tools/lancet-trace
# (ninja -C <build-dir> lancet-trace).
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

write=0
build_dir=""
only=()
while (($#)); do
  case "$1" in
    --write) write=1 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; only=("$@"); break ;;
    -*) echo "regen_golden.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      if [[ -n "$build_dir" ]]; then
        echo "regen_golden.sh: one build dir only (got '$build_dir' and '$1')" >&2
        exit 2
      fi
      build_dir="$1"
      ;;
  esac
  shift
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${build_dir:-$repo/build}"
tool="$build_dir/tools/lancet-trace"
data="$repo/tests/data/http1"
if [[ ! -x "$tool" ]]; then
  echo "regen_golden.sh: $tool not found; build it: ninja -C $build_dir lancet-trace" >&2
  exit 2
fi
if [[ ! -d "$data" ]]; then
  echo "regen_golden.sh: no $data" >&2
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

shopt -s nullglob
inputs=()
if ((${#only[@]})); then
  for name in "${only[@]}"; do
    name="${name%.http}"
    name="${name%.trace}"
    name="${name##*/}"
    if [[ ! -f "$data/$name.http" ]]; then
      echo "regen_golden.sh: no $data/$name.http" >&2
      exit 2
    fi
    inputs+=("$data/$name.http")
  done
else
  inputs=("$data"/*.http)
fi

changed=0 added=0 same=0
for http in "${inputs[@]}"; do
  name="$(basename "$http" .http)"
  trace="$data/$name.trace"
  new="$tmp/$name.trace"
  "$tool" <"$http" >"$new"
  if [[ -f "$trace" ]] && cmp -s "$trace" "$new"; then
    same=$((same + 1))
    continue
  fi
  if [[ -f "$trace" ]]; then
    changed=$((changed + 1))
    echo "changed: $name.trace"
    diff -u --label "a/$name.trace" --label "b/$name.trace" "$trace" "$new" || true
  else
    added=$((added + 1))
    echo "new:     $name.trace"
    diff -u --label /dev/null --label "b/$name.trace" /dev/null "$new" || true
  fi
  if ((write)); then
    cp "$new" "$trace"
  fi
done

# A trace whose input is gone is reported, never deleted.
for trace in "$data"/*.trace; do
  [[ -f "${trace%.trace}.http" ]] || echo "orphan:  $(basename "$trace") (no .http; delete it by hand)"
done

echo "regen_golden.sh: ${#inputs[@]} inputs: $same unchanged, $changed changed, $added new"
if ((changed + added == 0)); then
  exit 0
fi
if ((write)); then
  echo "regen_golden.sh: wrote $((changed + added)) trace(s); review them before committing"
  exit 0
fi
echo "regen_golden.sh: dry run; rerun with --write to rewrite the traces above"
exit 1
