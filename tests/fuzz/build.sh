#!/usr/bin/env bash
# Builds the libFuzzer targets tests/fuzz/fuzz_*.c, each compiled with the
# whole library (every src/**/*.c) under clang's
# -fsanitize=fuzzer,address,undefined. Self-contained: no CMake option.
#   MP_FUZZ_DIR=dir   output folder (default: build-fuzz)
#   CC=clang-N        the compiler (default: clang)
#   MP_FUZZ_CFLAGS    extra flags for the targets (-DFUZZ_QUEUE_NULL_BUF)
# Installs clang with apt-get when it is missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${MP_FUZZ_DIR:-build-fuzz}
cc=${CC:-clang}
case "$cc" in *clang*) ;; *) cc=clang ;; esac
if ! command -v "$cc" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "fuzz: installing clang" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
  else
    echo "fuzz: $cc not found (install clang)" >&2
    exit 1
  fi
fi
mkdir -p "$out/obj"
flags=(-g -O1 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc
       -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter)
# The library once, as objects instrumented for coverage; rebuilt when the
# source or any header is newer (headers hold inline code).
newest_h=$( (ls -t src/*/*.h include/*.h include/mp/*.h 2>/dev/null || true) | head -1)
objs=()
for src in src/*.c src/*/*.c; do
  # The core library only: src/cluster/ is libmp_mpi, which needs MPI.
  case "$src" in src/cluster/*) continue ;; esac
  obj="$out/obj/$(echo "$src" | tr / _).o"
  if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
    "$cc" "${flags[@]}" -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
# Stale objects of sources that went away would not link; drop them.
for obj in "$out"/obj/*.o; do
  case " ${objs[*]} " in *" $obj "*) ;; *) rm -f "$obj" ;; esac
done
for target in tests/fuzz/fuzz_*.c; do
  name=$(basename "$target" .c)
  # A target may need an area that is not built yet (fuzz_queue needs
  # src/queue.c): it names its sources in a "fuzz-requires:" line.
  req=$(sed -n 's/.*fuzz-requires: *//p' "$target" | head -1)
  skip=
  for r in $req; do [ -e "$r" ] || skip=$r; done
  if [ -n "$skip" ]; then
    echo "fuzz: skipping $name ($skip not there yet)" >&2
    continue
  fi
  # shellcheck disable=SC2086 # word splitting of the extra flags is meant
  "$cc" "${flags[@]}" ${MP_FUZZ_CFLAGS:-} -fsanitize=fuzzer "$target" "${objs[@]}" -lpthread -lm -o "$out/$name"
  echo "$out/$name"
done
