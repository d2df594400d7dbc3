#!/usr/bin/env bash
# Checks the layering law of DESIGN.md on a source tree (default: the repository):
#   protocol/  includes no sockets, threads, clocks, Python, libevent, liburing or I/O streams,
#              and reads no clock or environment, prints nothing;
#   backends/  never includes Python;
#   only bridge/ includes Python.h or pybind11.
# Prints each violation and exits 1 if there is any. Used by ctest (Layering.*).
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
status=0
report() { echo "layering: $1"; echo "$2" | sed 's/^/  /'; status=1; }

src_files() { [ -d "$1" ] && find "$1" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.cc' \) | sort; }

forbidden_protocol='#\s*include\s*[<"]((netinet|pybind11|event2|liburing)/|(sys/socket\.h|sys/epoll\.h|arpa/inet\.h|netdb\.h|unistd\.h|fcntl\.h|poll\.h|thread|mutex|shared_mutex|atomic|condition_variable|future|chrono|ctime|time\.h|sys/time\.h|Python\.h|event\.h|liburing\.h|fstream|iostream|cstdio|stdio\.h|filesystem)[>"])'
files=$(src_files protocol)
if [ -n "$files" ]; then
  hits=$(grep -nE "$forbidden_protocol" $files 2>/dev/null)
  [ -n "$hits" ] && report "protocol/ must stay sans-io (no sockets, threads, clocks, Python, event loops, I/O):" "$hits"
  hits=$(grep -nE '::now\(|getenv\(|std::cout|std::cerr|\bf?printf\(|\bputs\(|\btime\(|\bclock\(' $files 2>/dev/null)
  [ -n "$hits" ] && report "protocol/ reads no clock or environment and prints nothing:" "$hits"
fi
files=$(src_files backends)
if [ -n "$files" ]; then
  hits=$(grep -nE '#\s*include\s*[<"](Python\.h|pybind11/)' $files 2>/dev/null)
  [ -n "$hits" ] && report "backends/ never include Python:" "$hits"
fi
files=$(find . -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.cc' \) \
          -not -path './bridge/*' -not -path './build*' -not -path './.venv/*' -not -path './.git/*' | sort)
if [ -n "$files" ]; then
  hits=$(grep -lE '#\s*include\s*[<"](Python\.h|pybind11/)' $files 2>/dev/null)
  [ -n "$hits" ] && report "only bridge/ may include Python.h or pybind11:" "$hits"
fi
[ $status -eq 0 ] && echo "layering: ok"
exit $status
