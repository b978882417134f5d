# purbo — one build for the CPU and CUDA parts.
#   make / make all   build build/purbo-bench, build/purbo-test and build/purbo-gpu-test
#   make run          set up (packages, model), run the default job: a passkey
#                     case, the four probes at 1K context and the default suite,
#                     with their plots in out/plots
#   make test         set up (both models), gate the smoke suite, run the unit
#                     tests, then again under ASan + UBSan (make test-asan; CPU; CI)
#   make test-slurm   a suite as a Slurm job array on a one-node cluster started
#                     here (root; installs munge/slurmd; not in make test)
#   make bench        CPU benchmarks (prefill/decode tokens/s)
#   make device       the bundle for the GPU machine (sm_90a, static SQLite/libyaml):
#                     purbo-bench and purbo-gpu-test (tests/gpu, run there)
#   make fuzz         libFuzzer targets (clang), not part of CI
# Every .c file under the source folders is built; engine/cli/main.c holds main().
# Includes name their wing from the repository root or engine/ ("kernels/ops.h",
# "policy/plan.h"); scripts/layers.py (run by make test) keeps them downward.

CC       ?= cc
NVCC     ?= nvcc
ARCH     ?= -march=x86-64-v3
OPT      ?= -O3 -g
CPPFLAGS += -I. -Iengine -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) $(ARCH) -Wall -Wextra -Werror -MMD -MP
LDLIBS   += -lopenblas -lsqlite3 -lyaml -lm -lpthread
CUDA_HOME ?= /usr/local/cuda
NVCCFLAGS ?= -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Xcompiler -Wall,-Werror \
             -I. -Iengine
MODEL    := models/SmolLM2-135M-Instruct.Q4_1.gguf
GEMMA    := models/gemma-3-270m-q4_k_m.gguf
# the converted plan: `convert`'s need rule, with indexers on the 8 slowest
# RoPE pairs at rank 16 (CONVERT_FLAGS; the measured best for this model,
# engine/convert/CONVERT.md). Its name follows the rule and the flags, so a
# plan made another way is not reused.
PLAN     := models/SmolLM2-135M-Instruct.Q4_1.need-b8r16.purbo
CONVERT_FLAGS := --rope-band 8 --r 16

SRC_DIRS := engine/base kernels/cpu results engine/model engine/run engine/policy engine/cli \
            probes engine/convert plots suites
LIB_C    := $(filter-out engine/cli/main.c,$(foreach d,$(SRC_DIRS),$(wildcard $(d)/*.c)))
LIB_CU   := $(wildcard kernels/cuda/*.cu probes/*.cu engine/*/*.cu)
TEST_C   := $(wildcard tests/*.c)
# GPU tests (tests/gpu/): their own runner binary, run on the GPU machine.
GPU_TEST_C := $(wildcard tests/gpu/*.c) $(filter-out tests/test_%.c,$(TEST_C))
LIB_O    := $(LIB_C:%.c=build/%.o) $(LIB_CU:%.cu=build/%.cu.o)
# The CUDA runtime is linked statically; cuBLAS and CUPTI are dlopen'ed when
# a CUDA backend or a CUPTI region opens (engine/run/backend_cuda.cu, probes/cupti.c),
# so the same binary starts on machines without them and says why cuda cannot run.
ifneq ($(LIB_CU),)
LDLIBS   += -L$(CUDA_HOME)/lib64 -lcudart_static -lculibos -ldl -lrt -lstdc++
endif
build/probes/cupti.o: CPPFLAGS += -I$(CUDA_HOME)/include
build/tests/gpu/test_cuda_attn.o build/tests/gpu/test_cuda_index.o: CPPFLAGS += -I$(CUDA_HOME)/include
build/tests/gpu/test_cuda_sparse.o: CPPFLAGS += -I$(CUDA_HOME)/include
build/tests/gpu/test_cuda_local.o: CPPFLAGS += -I$(CUDA_HOME)/include

BIN      := build/purbo-bench
TEST_BIN := build/purbo-test
GPU_TEST_BIN := build/purbo-gpu-test

.PHONY: all run test bench device gpu-test fuzz deps model model-gemma clean

# The GPU machine has the CUDA libraries but no SQLite, libyaml or OpenBLAS:
# the device bundle links those three statically (and OpenBLAS's LAPACK
# its Fortran runtime) and is stripped.
DEVICE_DIR := build/device
DEVICE_LIBS = -Wl,-Bstatic -lsqlite3 -lyaml -lopenblas -lgfortran -lquadmath -Wl,-Bdynamic \
              $(filter-out -lopenblas -lsqlite3 -lyaml,$(LDLIBS))
all: $(BIN) $(TEST_BIN) $(GPU_TEST_BIN)

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# -MMD -MP as for C: a .cu object is rebuilt when a header it includes changes
build/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(BIN): build/engine/cli/main.o $(LIB_O)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(TEST_BIN): $(TEST_C:%.c=build/%.o) $(LIB_O)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

gpu-test: $(GPU_TEST_BIN)
$(GPU_TEST_BIN): $(GPU_TEST_C:%.c=build/%.o) $(LIB_O)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# Both binaries of the bundle: purbo-bench and the GPU tests (purbo-gpu-test),
# and the local heads' dev harness (attn_local).
device: build/engine/cli/main.o $(GPU_TEST_C:%.c=build/%.o) $(LIB_O) build/dev/attn_local
	@[ -f "$$($(CC) -print-file-name=libgfortran.a)" ] || sh scripts/deps.sh gfortran
	@mkdir -p $(DEVICE_DIR)
	cp build/dev/attn_local $(DEVICE_DIR)/attn_local
	$(CC) $(CFLAGS) build/engine/cli/main.o $(LIB_O) $(SCHEMA_O) $(PLOTS_O) -o $(DEVICE_DIR)/purbo-bench $(LDFLAGS) $(DEVICE_LIBS)
	$(CC) $(CFLAGS) $(GPU_TEST_C:%.c=build/%.o) $(LIB_O) $(SCHEMA_O) $(PLOTS_O) -o $(DEVICE_DIR)/purbo-gpu-test $(LDFLAGS) $(DEVICE_LIBS)
	strip $(DEVICE_DIR)/purbo-bench $(DEVICE_DIR)/purbo-gpu-test
	@ls -la $(DEVICE_DIR)

deps:
	@sh scripts/deps.sh

model: deps
	@sh scripts/model.sh smollm2

# Gemma-3-270M (the second model family; the unit tests need it).
model-gemma: deps
	@sh scripts/model.sh gemma3-270m

# The two set-up commands (README): each installs what it needs first.
# run: the passkey demo (a wrong answer exits 1: shown, not fatal here), the probes and the conversion (every run's charts:
# plot --all), then the default suite into out/results.db and its plots into
# out/plots.
run: model
	@$(MAKE) --no-print-directory all
	-$(BIN) passkey --model $(MODEL)
	$(BIN) probe all --model $(MODEL) --ctx 1024 --windows 2
	test -f $(PLAN) || $(BIN) convert --model $(MODEL) $(CONVERT_FLAGS) --out $(PLAN)
	-$(BIN) passkey --model $(MODEL) --plan $(PLAN)
	$(BIN) plot --all --out out/plots
	$(BIN) run suites/default.yaml --db out/results.db --plots out/plots
	@echo "database: out/results.db (purbo-bench report --run last); plots: out/plots/*.png"

# test: the include-order check (scripts/layers.py: includes and calls run
# downward, no circles), the smoke suite into a fresh database, gated against
# its committed baseline, the unit tests, then the same unit tests under
# AddressSanitizer + UndefinedBehaviorSanitizer with leak checking (test-asan).
# All always run and any failing fails the target; the last line is the sum
# (scripts/test_sum.sh): the layer check and the smoke gate count one each,
# plus both runners' "N passed, N failed" (a runner that printed no summary,
# say a build that failed, counts as one failure).
SMOKE_DB := build/smoke.db
test: model model-gemma
	@$(MAKE) --no-print-directory all
	@st=0; python3 scripts/layers.py --objects build; layers=$$?; \
	rm -f $(SMOKE_DB) $(SMOKE_DB)-wal $(SMOKE_DB)-shm build/test-*.log; \
	$(BIN) run suites/smoke.yaml --db $(SMOKE_DB) --progress lines && \
	  $(BIN) compare --baseline results/baselines/smoke.txt --run last --db $(SMOKE_DB); smoke=$$?; \
	{ PURBO_TEST_SMOKE_DB=$(SMOKE_DB) $(TEST_BIN) --model $(MODEL) --gemma $(GEMMA) --bin $(BIN) 2>&1; \
	  echo $$? > build/test-unit.rc; } | tee build/test-unit.log; \
	[ "$$(cat build/test-unit.rc)" = 0 ] || st=1; \
	$(MAKE) --no-print-directory test-asan || st=1; \
	sh scripts/test_sum.sh layers=$$layers smoke-gate=$$smoke build/test-unit.log build/test-asan.log || st=1; \
	exit $$st

# test-asan: build/asan/purbo-test and build/asan/purbo-bench built at -O1
# with ASan + UBSan (any UB report aborts; leaks fail the exit status), the
# unit tests run with that binary as --bin, so the commands they spawn are
# checked too. Its output goes to build/test-asan.log and the terminal.
# (The CUDA objects are the normal build's: nvcc code is not instrumented.)
# ASAN_SKIP: names of tests to leave out of this run (the runner's --skip),
# for when the sanitizer run outgrows CI's time (about 7 minutes on 2 cores,
# 2-3x the plain run): the sharded smoke suite (three shards of the whole
# smoke suite and the merge, about a minute plain; the merge code itself is
# checked here by merge_synthetic_shards). A skipped test still runs by hand:
# `ASAN_OPTIONS=detect_leaks=1 build/asan/purbo-test --bin build/asan/purbo-bench NAME`.
ASAN_DIR    := build/asan
ASAN_OPT    := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_CFLAGS  = -std=c11 $(ASAN_OPT) $(ARCH) -Wall -Wextra -Werror -MMD -MP
ASAN_ENV    := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0 \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_SKIP   ?= shard_smoke_equals_unsharded
ASAN_LIB_O  := $(LIB_C:%.c=$(ASAN_DIR)/%.o) $(LIB_CU:%.cu=build/%.cu.o) \
               $(ASAN_DIR)/results/schema_sql.o $(ASAN_DIR)/plots/plot_scripts.o
.PHONY: test-asan asan
asan: $(ASAN_DIR)/purbo-bench $(ASAN_DIR)/purbo-test
test-asan:
	@rm -f build/test-asan.log
	@$(MAKE) --no-print-directory asan > build/test-asan-build.log 2>&1 || \
	  { cat build/test-asan-build.log; echo "sanitizer build failed" > build/test-asan.log; exit 1; }
	@echo "--- unit tests under ASan + UBSan (leaks checked)$(if $(ASAN_SKIP), skipping: $(ASAN_SKIP))"
	@{ $(ASAN_ENV) $(ASAN_DIR)/purbo-test --model $(MODEL) --gemma $(GEMMA) --bin $(ASAN_DIR)/purbo-bench \
	  $(addprefix --skip ,$(ASAN_SKIP)) 2>&1; echo $$? > build/test-asan.rc; } | tee build/test-asan.log; \
	  exit "$$(cat build/test-asan.rc)"
$(ASAN_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASAN_CFLAGS) -c $< -o $@
$(ASAN_DIR)/%.o: build/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASAN_CFLAGS) -c $< -o $@
$(ASAN_DIR)/results/meta.o: CPPFLAGS += -DPB_BUILD_CFLAGS='"$(CC) $(ASAN_CFLAGS)"'
$(ASAN_DIR)/purbo-bench: $(ASAN_DIR)/engine/cli/main.o $(ASAN_LIB_O)
	$(CC) $(ASAN_CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)
$(ASAN_DIR)/purbo-test: $(TEST_C:%.c=$(ASAN_DIR)/%.o) $(ASAN_LIB_O)
	$(CC) $(ASAN_CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# test-slurm: the Slurm path for real (scripts/slurm/test_slurm.sh): a
# one-node cluster from Debian's packages on this machine (root; apt-get
# installs munge, slurmctld and slurmd when missing), the smoke suite as a
# 3-task job array and its merge job, the merged report against an unsharded
# run. Not in make test: it
# installs packages and starts daemons, and takes about as long as two
# smoke runs plus the cluster's start (scripts/slurm/README.md).
.PHONY: test-slurm
test-slurm: model
	@$(MAKE) --no-print-directory all
	bash scripts/slurm/test_slurm.sh

bench: model
	@$(MAKE) --no-print-directory all
	$(BIN) bench-cpu --model $(MODEL)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# libFuzzer targets: fuzz/fuzz_NAME.c → build/fuzz/fuzz_NAME (clang, ASan+UBSan):
# gguf, tokenizer, suite (the YAML loader), planfile. What they found is kept
# in fuzz/regress/NAME/, which tests/test_fuzz_regress.c replays in make test.
FUZZ_C   := $(wildcard fuzz/fuzz_*.c)
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
               -D_GNU_SOURCE \
               -I. -Iengine
# Each target lists the engine files it links (FUZZ_DEPS_<name>).
FUZZ_DEPS_fuzz_gguf      := engine/model/gguf.c kernels/cpu/quant.c engine/base/common.c engine/base/utf8.c
FUZZ_DEPS_fuzz_tokenizer := $(FUZZ_DEPS_fuzz_gguf) engine/model/tokenizer.c engine/model/tok_spm.c \
                            engine/base/hash.c $(wildcard engine/model/unicode*.c)
FUZZ_DEPS_fuzz_suite     := suites/suite_load.c suites/suite_yaml.c suites/suite_methods.c suites/suite_guard.c \
                            engine/base/common.c engine/base/utf8.c engine/base/suggest.c engine/policy/plan_spec.c
FUZZ_LIBS_fuzz_suite     := -lyaml
FUZZ_DEPS_fuzz_planfile  := engine/policy/planfile.c engine/base/hash.c $(FUZZ_DEPS_fuzz_gguf)
fuzz: $(FUZZ_C:fuzz/%.c=build/fuzz/%)
.SECONDEXPANSION:
build/fuzz/%: fuzz/%.c $$(FUZZ_DEPS_$$*)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $^ -o $@ $(FUZZ_LIBS_$*) -lm

# results/: schema.sql is embedded as a C string (one literal line per SQL
# line; \ " and ? escaped, the last against trigraphs), and results/meta.c
# records the build flags in each run row.
SCHEMA_O := build/results/schema_sql.o
$(BIN) $(TEST_BIN) $(GPU_TEST_BIN) device: $(SCHEMA_O)
build/results/schema_sql.c: results/schema.sql
	@mkdir -p $(dir $@)
	{ echo '/* generated from results/schema.sql by the Makefile; do not edit */'; \
	  echo '#include "results/db.h"'; echo 'const char results_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@
$(SCHEMA_O): build/results/schema_sql.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
# --version: the commit main.o was built at (build/git-sha changes with HEAD,
# so main.o is rebuilt when it does).
GIT_SHA  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
build/engine/cli/main.o: CPPFLAGS += -DPB_GIT_SHA='"$(GIT_SHA)"'
build/engine/cli/main.o: build/git-sha
build/git-sha: FORCE
	@mkdir -p build; echo '$(GIT_SHA)' | cmp -s - $@ || echo '$(GIT_SHA)' > $@
.PHONY: FORCE
FORCE:
build/results/meta.o: CPPFLAGS += -DPB_BUILD_CFLAGS='"$(CC) $(CFLAGS)"' \
    $(if $(LIB_CU),-DPB_BUILD_NVCC='"$(shell $(NVCC) --version 2>/dev/null | grep release)"')

# --- CUDA attention: dev harnesses and link fix-up ------------------------
# make dev-attn → build/dev/attn_prefill, build/dev/attn_decode: each CUDA
# attention kernel built and run alone (kernels/cuda/dev, llm.c's dev/cuda
# habit), statically linked to cudart so the binaries run on the GPU machine.
# build/dev/attn_sparse: the block-sparse prefill and sparse decode, timed
# beside the dense kernels.
DEV_ATTN := build/dev/attn_prefill build/dev/attn_decode build/dev/attn_sparse build/dev/attn_local
.PHONY: dev-attn
dev-attn: $(DEV_ATTN)
build/dev/attn_ref.o: kernels/cpu/attn_ref.c kernels/attn_kernels.h kernels/attn_sparse.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -I. -Iengine -c $< -o $@
build/dev/attn_select_ref.o: kernels/cpu/attn_select_ref.c kernels/attn_sparse.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -I. -Iengine -c $< -o $@
DEV_DENSE_O := build/dev/attn_ref.o build/kernels/cuda/attn_prefill.cu.o build/kernels/cuda/attn_prefill_sm90.cu.o \
               build/kernels/cuda/attn_decode.cu.o
build/dev/attn_sparse: kernels/cuda/dev/attn_sparse.cu kernels/cuda/dev/attn_sparse_union.cu \
                       kernels/cuda/dev/dev_common.cuh kernels/cuda/dev/sparse_lists.cuh $(DEV_DENSE_O) \
                       build/kernels/cuda/attn_sparse_prefill.cu.o build/kernels/cuda/attn_sparse_prefill_item.cu.o \
                       build/kernels/cuda/attn_sparse_prefill_union.cu.o \
                       build/kernels/cuda/attn_sparse_decode.cu.o build/kernels/cuda/attn_sparse_union.cu.o \
                       build/kernels/cuda/attn_select.cu.o build/kernels/cuda/attn_index.cu.o \
                       build/kernels/cuda/attn_index_prefill.cu.o build/dev/attn_select_ref.o
	$(NVCC) $(NVCCFLAGS) $(filter %.cu %.o,$^) -o $@ -ldl
# the GPU round runs the sparse harness beside the device bundle
device: build/dev/attn_sparse
# build/dev/attn_local: the local heads' kernels (sinks + window over a ring),
# timed beside the dense windowed ones; also copied into the device bundle.
build/dev/attn_local: kernels/cuda/dev/attn_local.cu kernels/cuda/dev/dev_common.cuh $(DEV_DENSE_O) \
                      build/kernels/cuda/attn_local.cu.o
	$(NVCC) $(NVCCFLAGS) $(filter %.cu %.o,$^) -o $@ -ldl
build/dev/attn_%: kernels/cuda/dev/attn_%.cu kernels/cuda/dev/dev_common.cuh $(DEV_DENSE_O)
	$(NVCC) $(NVCCFLAGS) $(filter %.cu %.o,$^) -o $@ -ldl

# make dev-gemm → build/dev/gemm_bf16: the CPU's bf16 products
# (kernels/gemm_bf16.h) timed alone beside OpenBLAS sgemm on Gemma-3-270M's
# layer shapes (kernels/cpu/dev/gemm_bf16.c; bench/cpu.md has its numbers).
DEV_GEMM_O := build/kernels/cpu/gemm_bf16.o build/kernels/cpu/pool.o build/kernels/cpu/ops_par.o \
              build/kernels/cpu/ops.o build/engine/base/common.o build/engine/base/utf8.o
.PHONY: dev-gemm
dev-gemm: build/dev/gemm_bf16
build/dev/gemm_bf16: kernels/cpu/dev/gemm_bf16.c $(DEV_GEMM_O)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(DEV_GEMM_O) -o $@ $(LDFLAGS) -lopenblas -lm -lpthread

# plots/: the gnuplot scripts are embedded in the binary as plot_scripts[]
# (plots/plot_kit.h; same escaping as the schema), so `plot` needs no checkout.
PLOT_GP  := $(sort $(wildcard plots/*.gp))
PLOTS_O  := build/plots/plot_scripts.o
$(BIN) $(TEST_BIN) $(GPU_TEST_BIN) device: $(PLOTS_O)
build/plots/plot_scripts.c: $(PLOT_GP)
	@mkdir -p $(dir $@)
	{ echo '/* generated from the plots/ scripts by the Makefile; do not edit */'; \
	  echo '#include "plots/plot_kit.h"'; echo 'const plot_script plot_scripts[] = {'; \
	  for f in $(PLOT_GP); do echo "{\"$$(basename $$f .gp)\","; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $$f; echo '},'; done; \
	  echo '{0, 0}};'; } > $@
$(PLOTS_O): build/plots/plot_scripts.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
