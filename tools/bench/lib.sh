# shellcheck shell=bash
# Sourced by tools/bench/run.sh and workers.sh (needs REPO, HERE, LANCET set).
#
# select_lancet_backends "$BACKENDS"
#   Sets LANCET_BACKENDS (array), LANCET_PREFIX (assoc: backend -> command prefix without the
#   app's arguments), LANCET_INFO (array of lines for versions.txt) and LANCET_SOS (the
#   extension modules used, for so_fingerprint).  BACKENDS empty: every
#   backend that is built (a note on stderr names the others and the command that builds them);
#   a backend named but not built is an error with that command.
#   A backend runs from .venv/bin/lancet when that reports it (tools/install.sh), else with the
#   extension of build-BACKEND/pkg (tools/bench/build_backends.sh BACKEND, the cmake lines of
#   tools/test.sh) and the working tree's python/lancet/*.py.
select_lancet_backends() {
  local want="$1" b venv_backend="" dir so ver
  declare -gA LANCET_PREFIX=()
  LANCET_BACKENDS=()
  LANCET_INFO=()
  LANCET_SOS=()
  if [ -x "$LANCET" ]; then
    venv_backend=$("$LANCET" --version 2>/dev/null | sed -n 's/.*backend \([a-z_]*\).*/\1/p')
  fi
  local missing=()
  for b in io_uring libevent blocking; do
    if [ -n "$want" ] && [[ ",$want," != *",$b,"* ]]; then continue; fi
    if [ "$b" = "$venv_backend" ]; then
      LANCET_PREFIX[$b]="$LANCET"
      so=$(ls "$REPO"/python/lancet/_lancet*.so 2>/dev/null | head -1 || true)
      [ -n "$so" ] && LANCET_SOS+=("$so")
      LANCET_INFO+=("lancet-$b: $LANCET: $("$LANCET" --version 2>&1); extension ${so:-?} built $(stat -c %y "$so" 2>/dev/null | cut -d. -f1)")
    else
      # The extension of build-BACKEND/pkg with the working tree's python/lancet/*.py, linked
      # afresh into tools/bench/.build/pkg-BACKEND (build-BACKEND/pkg's own links to the .py
      # files are made when it is built and miss modules added since).
      so=$(ls "$REPO/build-$b/pkg"/lancet/_lancet*.so 2>/dev/null | head -1 || true)
      dir="$HERE/.build/pkg-$b"
      ver=""
      if [ -n "$so" ]; then
        mkdir -p "$dir/lancet"
        local f l
        for f in "$REPO"/python/lancet/*.py "$so"; do   # only what is missing or stale, so a
          l="$dir/lancet/$(basename "$f")"               # run going on meanwhile is not disturbed
          [ "$(readlink "$l" 2>/dev/null)" = "$f" ] || ln -sfn "$f" "$l"
        done
        for l in "$dir"/lancet/*; do [ -e "$l" ] || rm -f "$l"; done
        ver=$(PYTHONPATH="$dir" /usr/bin/python3 -m lancet --version 2>&1 || true)
      fi
      if [[ "$ver" != *"backend $b"* ]]; then missing+=("$b"); continue; fi
      LANCET_PREFIX[$b]="env PYTHONPATH=$dir:$HERE /usr/bin/python3 -m lancet"
      LANCET_SOS+=("$so")
      LANCET_INFO+=("lancet-$b: $so (+ python/lancet/*.py): $ver; extension built $(stat -c %y "$so" | cut -d. -f1)")
    fi
    LANCET_BACKENDS+=("$b")
  done
  if [ -n "$want" ]; then
    for b in ${want//,/ }; do
      case "$b" in io_uring|libevent|blocking) ;; *)
        echo "$(basename "$0"): unknown backend '$b' in BACKENDS (io_uring, libevent, blocking)" >&2; exit 2 ;;
      esac
    done
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    local how=""
    for b in "${missing[@]}"; do
      if [ "$b" = "$venv_backend" ] || { [ -z "$venv_backend" ] && [ "$b" = io_uring ]; }; then
        how+="  $b: tools/install.sh (.venv/bin/lancet)"$'\n'
      else
        how+="  $b: tools/bench/build_backends.sh $b   (the cmake lines of tools/test.sh)"$'\n'
      fi
    done
    if [ -n "$want" ]; then
      printf '%s: backend(s) not built: %s. Build with:\n%s' "$(basename "$0")" "${missing[*]}" "$how" >&2
      exit 1
    fi
    printf '%s: note: backend(s) not built, left out: %s. Build with:\n%s' "$(basename "$0")" "${missing[*]}" "$how" >&2
  fi
  if [ ${#LANCET_BACKENDS[@]} = 0 ]; then
    echo "$(basename "$0"): no Lancet backend is built: run tools/install.sh first" >&2
    exit 1
  fi
}

# lancet_add_args SUFFIX EXTRA_ARGS
#   Sets LANCET_NAMES (comma list "lancet-B$SUFFIX,...") and LANCET_ADD (array of
#   --add-server 'lancet-B$SUFFIX=PREFIX {app} --host 127.0.0.1 --port {port} ... EXTRA_ARGS').
lancet_add_args() {
  local suffix="$1" extra="$2" b
  LANCET_NAMES=""
  LANCET_ADD=()
  for b in "${LANCET_BACKENDS[@]}"; do
    LANCET_NAMES+="${LANCET_NAMES:+,}lancet-$b$suffix"
    LANCET_ADD+=(--add-server "lancet-$b$suffix=${LANCET_PREFIX[$b]} {app} --host 127.0.0.1 --port {port} --no-access-log --log-level warning${extra:+ $extra}")
  done
}

# so_fingerprint: mtime and size of every extension in LANCET_SOS and of python/lancet/*.py (to
# notice a rebuild or an edit by someone else during a run: the results would then mix builds).
so_fingerprint() {
  local so
  for so in "${LANCET_SOS[@]}" "$REPO"/python/lancet/*.py; do
    stat -c '%n %Y %s' "$so" 2>/dev/null || echo "$so missing"
  done
}
