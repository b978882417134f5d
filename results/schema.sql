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
