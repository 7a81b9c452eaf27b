#!/bin/sh
# Applies .clang-format to every C file of the project; with --check, changes nothing and
# fails naming each file that is not formatted (what `make format-check` and CI run).
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh --format
files=$(ls lib/*.c lib/*.h cmd/*.c tests/unit/*.c tests/fuzz/*.c tests/fuzz/*.h)
if [ "${1:-}" != "--check" ]; then
    clang-format -i $files
    exit 0
fi
bad=0
for f in $files; do
    if ! clang-format "$f" | cmp -s "$f" -; then
        echo "format: $f is not formatted; run make format (diff: clang-format $f | diff $f -)"
        bad=$((bad + 1))
    fi
done
n=$(echo "$files" | wc -w)
echo "format: $((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
