#!/bin/sh
# run_gpu.sh — the GPU validation of the engine's CUDA backend, run from the
# repo root on the GPU machine (which has the CUDA libraries but no model,
# no SQLite and no `bible`): joins the model, runs the GPU tests
# (purbo-gpu-test), the CUDA commands and a CUPTI-timed bench, logs to $OUT.
#
# Prepared on the CPU machine: `make device`; a tarball .devwork2/bin.tar.xz
# of build/device/purbo-bench, build/device/purbo-gpu-test, kjv.txt
# (`bible -f Gen1:1-Rev22:21`) and this script; the GGUF split in two
# (first 50,000,000 bytes copied to /tmp/m.1 on the machine by an earlier
# call, the rest carried as .devwork2/m.2). Then:
#   mkdir -p /tmp/pb && tar -xJf .devwork2/bin.tar.xz -C /tmp/pb && sh /tmp/pb/run_gpu.sh
D=/tmp/pb
mkdir -p $D/bin && tar -xJf .devwork2/bin.tar.xz -C $D
cat /tmp/m.1 .devwork2/m.2 > /tmp/model.gguf
echo "model $(sha256sum /tmp/model.gguf | cut -c1-16) (want b179c9523d0e6a0f)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
ls /usr/local/cuda/lib64/libcupti.so* /usr/local/cuda/extras/CUPTI/lib64/libcupti.so* 2>/dev/null
printf '#!/bin/sh\ncat %s/kjv.txt\n' $D > $D/bin/bible && chmod +x $D/bin/bible
export PATH=$D/bin:$PATH
M=/tmp/model.gguf
echo "== gpu tests"; timeout 200 $D/purbo-gpu-test --model $M > $OUT/gpu-test.log 2>&1; echo "rc $?"
cat $OUT/gpu-test.log
echo "== passkey"; timeout 40 $D/purbo-bench passkey --model $M --backend cuda --cases 4
timeout 40 $D/purbo-bench passkey --model $M --backend cuda --tokens 6000 --cases 1
echo "== bench"; timeout 60 $D/purbo-bench bench --model $M --backend cuda --sizes 512,2048,8000 --repeats 5 --decode-ctx 2048 --decode-tokens 32 --db $OUT/bench.db
python3 - $OUT/bench.db <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print("runs:", c.execute("select device, cuda_runtime, cuda_driver from runs").fetchall())
for case, n, us in c.execute("select case_name, count(*), sum(end_ns-start_ns)/1e3 from kernel_timings group by case_name order by min(id)"):
    print(f"  {case:14s} {n:6d} kernels {us:10.1f} us busy")
for name, n, us in c.execute("select substr(name,1,60), count(*), sum(end_ns-start_ns)/1e3 from kernel_timings where case_name='prefill 8000' group by name order by 3 desc limit 8"):
    print(f"    {us:9.1f} us {n:5d}x {name}")
PY
