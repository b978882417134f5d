#!/bin/sh
# run_suites_gpu.sh — the suites on the GPU machine, from the repo root: the
# attention throughput suite (our kernels and the torch peers in one run,
# one database) and the default suite's dense method with the real model on
# the CUDA backend. Prepared as for run_gpu.sh (the bundle in
# .devwork2/bin.tar.xz, the model joined from /tmp/m.1 and .devwork2/m.2);
# the database comes back in $OUT/gpu.db, plotted on the CPU machine with
# `purbo-bench plot --db gpu.db --out DIR` (the GPU machine has no gnuplot).
#   sh tests/gpu/run_suites_gpu.sh [attention|attention-1m|model]...
D=/tmp/pb
mkdir -p $D && tar -xJf .devwork2/bin.tar.xz -C $D
mkdir -p $D/bin && printf '#!/bin/sh\ncat %s/kjv.txt\n' $D > $D/bin/bible && chmod +x $D/bin/bible
export PATH=$D/bin:$PATH                 # the haystacks' KJV text, as `bible` gives it
DB=$OUT/gpu.db
[ -f /tmp/gpu.db ] && cp /tmp/gpu.db $DB   # a database an earlier call on this machine began
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
for what in "$@"; do
  case $what in
  attention)
    echo "== throughput suite: prefill 4K-128K, decode 4K-1M"
    timeout 480 $D/purbo-bench run suites/throughput.yaml --db $DB --only attn_prefill,attn_decode --progress lines ;;
  attention-1m)
    echo "== throughput suite: prefill 1M (llama shape)"
    timeout 300 $D/purbo-bench run suites/throughput.yaml --db $DB --only attn_prefill_1m --resume --progress lines ;;
  model)
    [ -f /tmp/model.gguf ] || cat /tmp/m.1 .devwork2/m.2 > /tmp/model.gguf
    echo "== default suite, dense, real model on cuda"
    timeout 300 $D/purbo-bench run suites/default.yaml --model /tmp/model.gguf --backend cuda --methods dense \
      --db $DB --progress lines ;;
  esac
  echo "rc $?"
done
cp $DB /tmp/gpu.db
