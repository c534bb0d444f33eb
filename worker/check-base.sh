#!/bin/sh
# First step of the worker image build, run inside the CellProfiler base image:
#   sh check-base.sh <base image> <bases.tsv>
# Stops the build when the base is not a row of worker/bases.tsv, and compares the row's glibc, GLIBCXX and
# Python with the real base: a real value lower than the table's stops the build (`make -C worker check`
# trusted the table when it checked dcp's native binaries); a higher one, or an "unconfirmed" cell, is printed
# so the table can be corrected.
set -eu
image="$1"
table="$2"

row=$(awk -F '\t' -v img="$image" '$0 !~ /^#/ && $1 == img { print; exit }' "$table")
if [ -z "$row" ]; then
  echo "dcp worker image: base image '$image' is not in worker/bases.tsv. Supported bases:" >&2
  awk -F '\t' '$0 !~ /^#/ && NR > 1 && $1 != "image" { print "  " $1 " (" $2 ")" }' "$table" >&2
  echo "Fix: pick one (make -C worker build CELLPROFILER_IMAGE=...), or add a row for it with its distribution, glibc, GLIBCXX and Python, then run make -C worker check." >&2
  exit 1
fi
field() { printf '%s\n' "$row" | awk -F '\t' -v n="$1" '{ print $n }'; }

# a < b as versions (sort -V)
lower() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]; }

status=0
compare() { # name, table value, real value
  if [ -z "$3" ]; then
    echo "dcp worker image: could not read the base's $1 (worker/bases.tsv says $2)"
  elif [ "$2" = "unconfirmed" ]; then
    echo "dcp worker image: $image has $1 $3; worker/bases.tsv has it unconfirmed: record $3 there"
  elif lower "$3" "$2"; then
    echo "dcp worker image: worker/bases.tsv says $1 $2 for $image, but the image has $3. Fix: correct the row, then run make -C worker check" >&2
    status=1
  elif [ "$3" != "$2" ]; then
    echo "dcp worker image: $image has $1 $3, newer than worker/bases.tsv's $2 (binaries checked against $2 still run)"
  else
    echo "dcp worker image: $image $1 $3 (as in worker/bases.tsv)"
  fi
}

glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }' || true)
libstdcxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ { print $NF; exit }' || true)
glibcxx=""
if [ -n "$libstdcxx" ]; then
  glibcxx=$(grep -ao 'GLIBCXX_3\.4\.[0-9]*' "$libstdcxx" | sed 's/^GLIBCXX_//' | sort -uV | tail -n 1 || true)
fi
python=$(python3 -S -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)

compare glibc "$(field 3)" "$glibc"
compare GLIBCXX "$(field 4)" "$glibcxx"
# Python only has to be the one CellProfiler runs on (pip installs plugin requirements with it): report a difference.
if [ "$(field 5)" != "unconfirmed" ] && [ -n "$python" ] && [ "$python" != "$(field 5)" ]; then
  echo "dcp worker image: $image has Python $python (python3), worker/bases.tsv says $(field 5): correct the row"
else
  echo "dcp worker image: $image Python ${python:-not found} (python3; worker/bases.tsv: $(field 5))"
fi
cp_bin=$(command -v cellprofiler || true)
echo "dcp worker image: cellprofiler is ${cp_bin:-not on PATH}$( [ -n "$cp_bin" ] && printf ', run by %s' "$(head -n 1 "$cp_bin" | cut -c3-)")"
exit "$status"
