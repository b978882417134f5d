-- schema.sql — the results database schema, as numbered migrations.
--
-- The Makefile embeds this file in the binary (build/results/schema_sql.c);
-- results/db.c splits it at the "-- migration N: title" lines and, on every
-- open, applies the steps above the database's schema_version in order, each
-- in its own transaction. Rules a reader must keep:
--   - never edit a migration that has been applied anywhere (committed to
--     main): add a new one at the end, numbered one higher;
--   - a migration is plain SQL that SQLite runs inside a transaction (no
--     BEGIN/COMMIT, no PRAGMA that is a no-op inside one);
--   - every table holding results has run_id INTEGER NOT NULL REFERENCES
--     runs(id) and is written inside db_case_begin/db_case_commit.
-- Times are UTC ISO 8601 text ("2026-11-27T10:00:00.123Z"); durations are
-- REAL seconds.

-- migration 1: initial schema: schema_version, runs, bench
CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,          -- migration number
    title      TEXT NOT NULL,                -- its "-- migration N:" title
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row per purbo-bench invocation that records results. A run killed
-- before db_run_end stays 'running' with finished_at NULL.
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    started_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at       TEXT,
    status            TEXT NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'done', 'failed')),
    command           TEXT NOT NULL,         -- argv joined, shell-quoted
    git_sha           TEXT NOT NULL,         -- 40 hex digits or 'unknown'
    git_dirty         INTEGER CHECK (git_dirty IN (0, 1)), -- NULL: unknown
    build_cc          TEXT NOT NULL,         -- compiler and version
    build_cflags      TEXT NOT NULL,         -- $(CC) $(CFLAGS) of the build
    build_nvcc        TEXT,                  -- nvcc version; NULL without CUDA
    host              TEXT NOT NULL,
    cpu_model         TEXT NOT NULL,
    cpu_cores         INTEGER NOT NULL,      -- online logical CPUs
    device            TEXT NOT NULL,         -- 'cpu' or the GPU's name
    sqlite_version    TEXT NOT NULL,
    libyaml_version   TEXT NOT NULL,
    cuda_runtime      TEXT,                  -- NULL when no CUDA was used
    cuda_driver       TEXT,
    model_path        TEXT,
    model_fingerprint TEXT,                  -- see db.h: db_file_fingerprint
    config            TEXT,                  -- canonical config text
    config_hash       TEXT,                  -- FNV-1a 64 of config, 16 hex
    seed              INTEGER,
    notes             TEXT
);

-- One row per measured case of a benchmark: the time statistics over
-- `repeats` timed repetitions (after warm-up) and a derived throughput.
-- Shape columns are NULL where they do not apply.
CREATE TABLE bench (
    id              INTEGER PRIMARY KEY,
    run_id          INTEGER NOT NULL REFERENCES runs(id),
    bench           TEXT NOT NULL,           -- e.g. 'attn-prefill', 'forward'
    impl            TEXT NOT NULL,           -- purbo | llama.cpp | torch-sdpa-cudnn | ...
    phase           TEXT NOT NULL CHECK (phase IN ('prefill', 'decode')),
    n_layer         INTEGER,
    n_head          INTEGER,
    n_kv_head       INTEGER,
    head_dim        INTEGER,
    n_ctx           INTEGER,                 -- context length (KV entries)
    n_tokens        INTEGER,                 -- tokens processed per repeat
    repeats         INTEGER NOT NULL CHECK (repeats >= 1),
    t_median        REAL NOT NULL,           -- seconds per repeat
    t_min           REAL NOT NULL,
    t_max           REAL NOT NULL,
    t_p10           REAL NOT NULL,
    t_p90           REAL NOT NULL,
    t_mad           REAL NOT NULL,           -- median absolute deviation
    throughput      REAL,                    -- work per second at t_median
    throughput_unit TEXT CHECK (throughput_unit IN ('tok/s', 'TFLOP/s', 'GB/s')),
    notes           TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK ((throughput IS NULL) = (throughput_unit IS NULL))
);
CREATE INDEX bench_run ON bench(run_id);

-- migration 2: kernel_timings: every GPU kernel of a case, from CUPTI
-- One row per kernel launch recorded by probes/cupti.c (Activity API,
-- CONCURRENT_KERNEL) between the start and end of a case; written in the
-- case's transaction. Times are CUPTI's GPU timestamps in ns (one clock per
-- run: compare within a run); duration = end_ns - start_ns.
CREATE TABLE kernel_timings (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES runs(id),
    bench_id       INTEGER REFERENCES bench(id),  -- the case's bench row, if any
    case_name      TEXT NOT NULL,                 -- e.g. 'prefill 2048', 'forward a'
    seq            INTEGER NOT NULL,              -- order of start within the case, from 0
    name           TEXT NOT NULL,                 -- demangled (raw when not C++)
    mangled        TEXT NOT NULL,                 -- as CUPTI reports it
    grid_x         INTEGER NOT NULL,
    grid_y         INTEGER NOT NULL,
    grid_z         INTEGER NOT NULL,
    block_x        INTEGER NOT NULL,
    block_y        INTEGER NOT NULL,
    block_z        INTEGER NOT NULL,
    registers      INTEGER NOT NULL,              -- per thread
    static_smem    INTEGER NOT NULL,              -- bytes per block
    dynamic_smem   INTEGER NOT NULL,              -- bytes per block
    start_ns       INTEGER NOT NULL,
    end_ns         INTEGER NOT NULL CHECK (end_ns >= start_ns),
    device_id      INTEGER,
    stream_id      INTEGER,
    correlation_id INTEGER
);
CREATE INDEX kernel_timings_run ON kernel_timings(run_id);

-- migration 3: suite results: suite_cases, suite_bench
-- One row per (case, method) of a suite run (suites/runner.c): what was
-- asked (the grid point, the prompt's hash and the expected answers), what
-- came back, its score and its cost. Columns of the suite's `metrics` left
-- out are NULL. (task, method) names are unique within a suite file; the
-- run's config (runs.config) holds the whole file.
CREATE TABLE suite_cases (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    suite         TEXT NOT NULL,         -- the suite's name
    task          TEXT NOT NULL,         -- task name
    task_type     TEXT NOT NULL,         -- passkey | niah | niah_single_1 | ... | vt | cwe | fwe
    method        TEXT NOT NULL,         -- method name
    policy        TEXT NOT NULL,         -- the method's attention policy
    case_index    INTEGER NOT NULL,      -- index in the task's grid (suites/gen.h)
    context       INTEGER NOT NULL,      -- requested tokens: prompt + max_new
    depth         REAL,                  -- percent; NULL where the task has no depth grid
    sample        INTEGER NOT NULL,
    seed          INTEGER NOT NULL,      -- the task's seed
    case_seed     TEXT NOT NULL,         -- the case's own seed, 16 hex digits
    prompt_hash   TEXT NOT NULL,         -- FNV-1a 64 of the prompt, 16 hex digits
    prompt_tokens INTEGER,
    max_new       INTEGER NOT NULL,
    metric        TEXT NOT NULL CHECK (metric IN ('string_match_all', 'string_match_part', 'exact')),
    answers       TEXT NOT NULL,         -- expected strings, a JSON array
    prediction    TEXT NOT NULL,         -- the generated text
    score         REAL NOT NULL CHECK (score >= 0 AND score <= 1),
    density       REAL,                  -- attention (query, key) pairs computed / causally visible
    t_prefill     REAL,                  -- seconds for the prompt
    t_decode      REAL,                  -- seconds for the decode steps
    n_gen         INTEGER,               -- tokens generated
    n_decode      INTEGER,               -- decode steps (single-token evaluations)
    kv_bytes      INTEGER,               -- KV-cache bytes held at the end of the case
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (run_id, task, method, case_index)
);

-- One row per throughput case of a suite run: the bench row holding its
-- timings, and what the bench table does not say (task, method, weights).
CREATE TABLE suite_bench (
    bench_id    INTEGER PRIMARY KEY REFERENCES bench(id),
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    suite       TEXT NOT NULL,               -- the suite's name
    task        TEXT NOT NULL,
    method      TEXT NOT NULL,
    policy      TEXT NOT NULL,
    case_index  INTEGER NOT NULL,            -- (shape, context, phase) index in the task
    weights     TEXT NOT NULL CHECK (weights IN ('model', 'random')),
    density     REAL,
    kv_bytes    INTEGER,
    UNIQUE (run_id, task, method, case_index)
);

-- migration 4: probe results: locality, retrieval, rank and demand
-- One row per probe case: one probe measured at one context length over a
-- set of windows (probes/probe.h). The per-head tables below hang off it;
-- layer and head are 0-based, head is the query head.
CREATE TABLE probe_case (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    probe       TEXT NOT NULL CHECK (probe IN ('locality', 'retrieval', 'rank', 'demand')),
    n_ctx       INTEGER NOT NULL,        -- tokens per window (document)
    n_windows   INTEGER NOT NULL,
    n_layer     INTEGER NOT NULL,
    n_head      INTEGER NOT NULL,        -- query heads per layer
    n_kv_head   INTEGER NOT NULL,
    head_dim    INTEGER NOT NULL,
    queries     TEXT NOT NULL,           -- which query positions were measured
    calib       TEXT NOT NULL,           -- the text the windows came from (sizes, hashes)
    seed        INTEGER NOT NULL,
    seconds     REAL NOT NULL,           -- wall time of the pass(es) that fed the probe
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX probe_case_run ON probe_case(run_id);

-- locality: mean (over the measured queries) attention mass on the 4 sink
-- tokens plus the W most recent tokens (the query's own included).
CREATE TABLE probe_locality (
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    case_id  INTEGER NOT NULL REFERENCES probe_case(id),
    layer    INTEGER NOT NULL,
    head     INTEGER NOT NULL,
    window   INTEGER NOT NULL,           -- W in tokens
    mass     REAL NOT NULL,              -- in [0, 1]
    PRIMARY KEY (case_id, layer, head, window)
);
-- locality per head: the smallest W (of the measured grid) whose mean mass
-- reaches 0.9 and 0.95.
CREATE TABLE probe_locality_head (
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    case_id   INTEGER NOT NULL REFERENCES probe_case(id),
    layer     INTEGER NOT NULL,
    head      INTEGER NOT NULL,
    w90       INTEGER NOT NULL,
    w95       INTEGER NOT NULL,
    n_queries INTEGER NOT NULL,
    PRIMARY KEY (case_id, layer, head)
);

-- retrieval: mean mass the tokens of the second copy of a repeated span put
-- on the whole first copy (score), and on the token after the corresponding
-- one (score_next, the induction target); rank 1 = highest score.
CREATE TABLE probe_retrieval (
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    case_id    INTEGER NOT NULL REFERENCES probe_case(id),
    layer      INTEGER NOT NULL,
    head       INTEGER NOT NULL,
    score      REAL NOT NULL,
    score_next REAL NOT NULL,
    rank       INTEGER NOT NULL,
    n_queries  INTEGER NOT NULL,
    PRIMARY KEY (case_id, layer, head)
);

-- rank: keys ranked by an r-dim projected pre-RoPE score; recall = share of
-- the exact top-p (p = 0.9) token set among the same number of top-ranked
-- keys; mass_recall = attention mass of those keys over that of the exact
-- set; ev = variance explained by the r components (joint: of the score
-- q.k across keys; kpca: of k; qpca: of q).
CREATE TABLE probe_rank (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    case_id     INTEGER NOT NULL REFERENCES probe_case(id),
    layer       INTEGER NOT NULL,
    head        INTEGER NOT NULL,
    method      TEXT NOT NULL CHECK (method IN ('joint', 'kpca', 'qpca')),
    r           INTEGER NOT NULL,
    recall      REAL NOT NULL,
    mass_recall REAL NOT NULL,
    ev          REAL NOT NULL,
    n_queries   INTEGER NOT NULL,
    PRIMARY KEY (case_id, layer, head, method, r)
);

-- demand: per head (layer and head NULL: all heads pooled), the spread over
-- queries of the number of tokens (or 64-token blocks) needed to reach p of
-- the attention mass, for queries that see about ctx_len keys.
CREATE TABLE probe_demand (
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    case_id   INTEGER NOT NULL REFERENCES probe_case(id),
    layer     INTEGER,
    head      INTEGER,
    ctx_len   INTEGER NOT NULL,
    p         REAL NOT NULL,
    unit      TEXT NOT NULL CHECK (unit IN ('token', 'block')),
    n_queries INTEGER NOT NULL,
    v_min     REAL NOT NULL,
    v_p10     REAL NOT NULL,
    v_median  REAL NOT NULL,
    v_p90     REAL NOT NULL,
    v_max     REAL NOT NULL,
    v_mean    REAL NOT NULL
);
CREATE INDEX probe_demand_case ON probe_demand(case_id);
-- demand histogram, all heads and queries pooled: `count` (head, query)
-- pairs needed exactly `needed` units.
CREATE TABLE probe_demand_hist (
    run_id   INTEGER NOT NULL REFERENCES runs(id),
    case_id  INTEGER NOT NULL REFERENCES probe_case(id),
    ctx_len  INTEGER NOT NULL,
    p        REAL NOT NULL,
    unit     TEXT NOT NULL CHECK (unit IN ('token', 'block')),
    needed   INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (case_id, ctx_len, p, unit, needed)
);

-- migration 5: conversion: the plan a convert run made, its head split, the
-- indexer training curves and the indexer quality before and after training
-- One row per plan written (engine/policy/planfile.h); committed only after the
-- plan file is in place. layer and head are 0-based; head is the query head.
CREATE TABLE convert_plan (
    run_id        INTEGER PRIMARY KEY REFERENCES runs(id),
    plan_path     TEXT NOT NULL,
    model_fp      TEXT NOT NULL,         -- 16 hex digits, as in the plan file
    n_heads       INTEGER NOT NULL,      -- query heads of the model
    n_retrieval   INTEGER NOT NULL,
    rho           REAL NOT NULL,         -- retrieval fraction asked for
    sink          INTEGER NOT NULL,
    window        INTEGER NOT NULL,
    window_rule   TEXT NOT NULL,         -- how W was chosen
    block         INTEGER NOT NULL,
    local         INTEGER NOT NULL,
    p             REAL NOT NULL,
    r             INTEGER NOT NULL,
    steps         INTEGER NOT NULL,
    lr            REAL NOT NULL,
    batch         INTEGER NOT NULL,
    ctx           INTEGER NOT NULL,      -- tokens per calibration window
    train_windows INTEGER NOT NULL,
    eval_windows  INTEGER NOT NULL,
    queries       INTEGER NOT NULL,      -- sampled query positions per window
    s_probe       REAL NOT NULL,         -- seconds: retrieval-probe pass
    s_capture     REAL NOT NULL,         -- seconds: calibration pass (locality + capture)
    s_train       REAL NOT NULL,         -- seconds: teachers, PCA, training, evaluation
    s_total       REAL NOT NULL
);
-- Every query head's class and the probe values that decided it.
CREATE TABLE convert_head (
    run_id    INTEGER NOT NULL REFERENCES runs(id),
    layer     INTEGER NOT NULL,
    head      INTEGER NOT NULL,
    class     TEXT NOT NULL CHECK (class IN ('retrieval', 'local')),
    score     REAL,                      -- retrieval score (NULL: heads given by the user)
    w90       INTEGER,                   -- smallest window holding 0.9 of the mass (NULL: W given)
    PRIMARY KEY (run_id, layer, head)
);
-- The training curve of each retrieval head: the minibatch loss (mean
-- KL(teacher || student), nats) before the update of each step.
CREATE TABLE convert_loss (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    layer   INTEGER NOT NULL,
    head    INTEGER NOT NULL,
    step    INTEGER NOT NULL,            -- 0-based
    loss    REAL NOT NULL,
    lr      REAL NOT NULL,
    tau     REAL NOT NULL,               -- the student's temperature at that step
    PRIMARY KEY (run_id, layer, head, step)
);
-- Indexer quality on held-out windows (engine/convert/convert_eval.c defines each
-- value), for the PCA/SVD initialisation and for the trained indexer.
CREATE TABLE convert_quality (
    run_id         INTEGER NOT NULL REFERENCES runs(id),
    layer          INTEGER NOT NULL,
    head           INTEGER NOT NULL,
    stage          TEXT NOT NULL CHECK (stage IN ('init', 'trained')),
    r              INTEGER NOT NULL,
    p              REAL NOT NULL,
    recall         REAL NOT NULL,        -- share of the exact top-p token set in the selected blocks
    mass           REAL NOT NULL,        -- teacher mass in the selected blocks
    blocks_sel     REAL NOT NULL,        -- fraction of visible 64-token blocks selected
    blocks_teacher REAL NOT NULL,        -- the same for the exact top-p oracle
    kl             REAL NOT NULL,        -- mean KL(teacher || student), nats
    n_queries      INTEGER NOT NULL,
    PRIMARY KEY (run_id, layer, head, stage)
);

-- migration 6: suite_cases: the density of the prompt and of the decode apart
-- (a policy may sparsify one phase only: quest decodes sparse, prefills
-- dense). density stays the whole case's; these split it by phase. NULL
-- where not recorded (older rows, or no decode step ran: then the case was
-- its prefill alone).
ALTER TABLE suite_cases ADD COLUMN density_prefill REAL;
ALTER TABLE suite_cases ADD COLUMN density_decode REAL;

-- migration 7: hw_metrics, hw_ceilings: hardware counters per kernel and the card's ceilings
-- One row per (kernel launch, metric) a counter collection read (probes/
-- counters.cu: CUPTI Range Profiler, auto range, kernel replay) over one
-- untimed repetition of a case; metrics the chip lacks have no row. seq is
-- the launch's index within the case (the same order as kernel_timings.seq
-- when both were recorded); passes the replay passes each kernel took.
CREATE TABLE hw_metrics (
    run_id     INTEGER NOT NULL REFERENCES runs(id),
    bench_id   INTEGER REFERENCES bench(id),  -- the case's bench row, if any
    case_name  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    kernel     TEXT NOT NULL,                 -- demangled name, or the profiler's range name
    metric     TEXT NOT NULL,                 -- e.g. 'dram__bytes_read.sum'
    value      REAL NOT NULL,                 -- in the metric's own unit (ns, bytes, %, ops)
    passes     INTEGER NOT NULL,
    PRIMARY KEY (run_id, case_name, seq, metric)
);
-- The roofline's two ceilings, measured in the run that collected the
-- counters: 'dram_bw' (bytes/s read + written by a device-to-device copy)
-- and 'bf16_gemm' (FLOP/s of an n x n x n cuBLAS bf16 GEMM, 2 n^3 per product).
CREATE TABLE hw_ceilings (
    run_id  INTEGER NOT NULL REFERENCES runs(id),
    name    TEXT NOT NULL CHECK (name IN ('dram_bw', 'bf16_gemm')),
    value   REAL NOT NULL,
    detail  TEXT NOT NULL,                    -- the workload, e.g. 'copy 2147483648 B'
    PRIMARY KEY (run_id, name)
);

-- migration 8: sharded runs: the shard a run is, the Slurm job that ran it,
-- each suite pair's place in the suite, and the parts of a merged run
-- A suite run split with `run --shard i/n` records i and n (1 <= i <= n)
-- and the selection the pairs were split over (--only, --methods); all
-- shards of one run share its config and config_hash. Slurm's job ids come
-- from the environment of the process that wrote the run (NULL outside
-- Slurm). incomplete: 1 for a run merged without all its shards (merge
-- --partial), 0 for a complete merge, NULL for a run not merged.
ALTER TABLE runs ADD COLUMN shard_index INTEGER;
ALTER TABLE runs ADD COLUMN shard_count INTEGER CHECK (shard_count >= 1);
ALTER TABLE runs ADD COLUMN shard_scope TEXT;
ALTER TABLE runs ADD COLUMN slurm_job_id TEXT;
ALTER TABLE runs ADD COLUMN slurm_array_job_id TEXT;
ALTER TABLE runs ADD COLUMN slurm_array_task_id TEXT;
ALTER TABLE runs ADD COLUMN incomplete INTEGER CHECK (incomplete IN (0, 1));
-- pair: the (case, method) pair's index in the suite's whole grid (tasks in
-- file order, each task's cases in order, each case's methods in order), the
-- order an unsharded run writes them in; a merge inserts by it.
ALTER TABLE suite_cases ADD COLUMN pair INTEGER;
ALTER TABLE suite_bench ADD COLUMN pair INTEGER;
-- One row per shard run a merged run was made from, as it was recorded in
-- its own database (source: that file's absolute path, part_run_id: the
-- run's id there), so the merged run keeps where and how each part ran.
CREATE TABLE run_parts (
    run_id              INTEGER NOT NULL REFERENCES runs(id),   -- the merged run
    source              TEXT NOT NULL,
    part_run_id         INTEGER NOT NULL,
    shard_index         INTEGER NOT NULL,
    shard_count         INTEGER NOT NULL,
    status              TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    finished_at         TEXT,
    host                TEXT NOT NULL,
    device              TEXT NOT NULL,
    git_sha             TEXT NOT NULL,
    command             TEXT NOT NULL,
    slurm_job_id        TEXT,
    slurm_array_job_id  TEXT,
    slurm_array_task_id TEXT,
    pairs               INTEGER NOT NULL,                       -- suite pairs it held
    PRIMARY KEY (run_id, source, part_run_id)
);

-- migration 9: layer_bench: one RTPurbo attention layer per throughput case of level layer
-- One row per (case, method) of a `level: layer` task (suites/SCHEMA.md,
-- kernels/layer_time.h), beside its bench row (the whole layer's times)
-- and suite_bench row. Dense methods (ours and the peers) have NULL stage
-- times and selection columns. Stage times are medians of the stage timed
-- alone (seconds per launch); density is what the selection listed over
-- what the retrieval heads could see; needles count the planted needle
-- blocks the last query's (prefill: last query block's) lists kept.
CREATE TABLE layer_bench (
    bench_id         INTEGER PRIMARY KEY REFERENCES bench(id),
    run_id           INTEGER NOT NULL REFERENCES runs(id),
    density_target   REAL NOT NULL,           -- the planted selected fraction of the case
    density_source   TEXT NOT NULL,           -- 'sweep', or where the demand value was measured
    density          REAL,                    -- realised: listed / visible blocks, retrieval heads
    rho              REAL NOT NULL,           -- asked share of retrieval heads
    retrieval_heads  INTEGER NOT NULL,        -- query heads that retrieve (whole KV groups)
    local_heads      INTEGER NOT NULL,
    sink             INTEGER NOT NULL,
    window           INTEGER NOT NULL,
    p                REAL NOT NULL,
    index_kind       TEXT,                    -- prefill 'envelope' or 'mean' (the indexer's pooling), decode 'indexer'
    local_kind       TEXT,                    -- 'sink+window' (attn_local_*)
    t_index          REAL,
    t_select         REAL,
    t_attend         REAL,
    t_local          REAL,
    needles          INTEGER,
    needles_found    INTEGER,
    kv_bytes         INTEGER NOT NULL,        -- RTPurbo's KV bytes per layer at n_ctx (layer_kv_bytes)
    kv_bytes_dense   INTEGER NOT NULL
);
