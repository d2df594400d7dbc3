#!/usr/bin/env bash
# Proves the layering check can fail: plants one violation of each rule in a scratch tree and
# expects check_layering.sh to reject it, and a clean tree to pass.
set -u
check="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() {  # expect <pass|fail> <description>
  if "$check" "$tmp" >/dev/null 2>&1; then got=pass; else got=fail; fi
  if [ "$got" != "$1" ]; then echo "FAIL: $2 (expected $1, got $got)"; fails=$((fails + 1)); fi
}
mkdir -p "$tmp/protocol/http1" "$tmp/backends" "$tmp/bridge" "$tmp/tools"
echo '#include <string>' > "$tmp/protocol/http1/ok.hpp"
echo '#include <Python.h>' > "$tmp/bridge/ok.cpp"
expect pass "clean tree"
for inc in '<sys/socket.h>' '<thread>' '<chrono>' '<Python.h>' '<event2/event.h>' '<liburing.h>' '<iostream>'; do
  echo "#include $inc" > "$tmp/protocol/http1/bad.hpp"
  expect fail "protocol/ including $inc"
done
rm "$tmp/protocol/http1/bad.hpp"
echo 'auto t = std::chrono::steady_clock::now();' > "$tmp/protocol/http1/clock.cpp"
expect fail "protocol/ reading a clock"
rm "$tmp/protocol/http1/clock.cpp"
echo '#include <pybind11/pybind11.h>' > "$tmp/backends/io.cpp"
expect fail "backends/ including pybind11"
rm "$tmp/backends/io.cpp"
echo '#include "Python.h"' > "$tmp/tools/x.cpp"
expect fail "tools/ including Python.h"
rm "$tmp/tools/x.cpp"
expect pass "clean tree again"
if [ $fails -eq 0 ]; then echo "layering self-test: 12 passed, 0 failed"; exit 0; fi
exit 1
