#!/usr/bin/env python3
"""make_corpus.py — writes the bad-input corpus of tests/badinput/ (the
files cases.txt lists; tests/test_badinput.c replays them). Run from the
repository root; the files are committed, this only says how they were made.
Text files are written byte for byte; the plan files get a valid FNV-1a 64
checksum so the field under test is what is wrong; the GGUF files are a few
bytes each; the databases are made with Python's sqlite3.
"""
import os, sqlite3, struct

D = "tests/badinput"
HEAD = b"name: t\nmodel: models/SmolLM2-135M-Instruct.Q4_1.gguf\nbackend: cpu\nmethods: [{policy: dense}]\n"
TASKS = b"tasks:\n  - {type: passkey, contexts: [256], samples: 1}\n"


def put(name, data):
    with open(os.path.join(D, name), "wb") as f:
        f.write(data)


def fnv(b):
    h = 0xcbf29ce484222325
    for x in b:
        h = ((h ^ x) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def plan(layers=1, heads=1, kv=1, d=4, sink=4, window=64, block=64, local=64, p=0.9, r=1, classes=None,
         magic=b"PURBOPLN", version=1, flags=0, seal=True, extra=b"", rule=None):
    classes = classes if classes is not None else [0] * (layers * heads)
    n_ret = sum(1 for c in classes if c == 1)
    b = magic + struct.pack("<IIQ", version, flags, 0x1234)
    b += struct.pack("<8I", layers, heads, kv, d, sink, window, block, local)
    b += struct.pack("<fII", p, r, n_ret)
    if rule is not None:  # version 2: rows of (from, fields, local, kmin, p)
        b += struct.pack("<I", len(rule)) + b"".join(struct.pack("<IIIIf", *row) for row in rule)
    b += bytes(classes)
    b += b"\0" * (-len(b) % 4)
    b += struct.pack("<f", 0.5) * (n_ret * 2 * r * d)
    b += extra
    return b + struct.pack("<Q", fnv(b) if seal else fnv(b) ^ 1)


def gguf_model(rope=10000.0, eps=1e-5, rows=3, n_tokens=3):
    """A one-layer llama GGUF with only the keys and the embedding table
    model_read_config reads (enough for `info`), 4 wide, F32."""
    def st(x):
        return struct.pack("<Q", len(x)) + x
    kvs = [(b"general.architecture", 8, st(b"llama"))]
    for k, v in [(b"block_count", 1), (b"embedding_length", 4), (b"feed_forward_length", 4),
                 (b"attention.head_count", 1), (b"context_length", 16)]:
        kvs.append((b"llama." + k, 4, struct.pack("<I", v)))
    kvs.append((b"llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", eps)))
    kvs.append((b"llama.rope.freq_base", 6, struct.pack("<f", rope)))
    kvs.append((b"tokenizer.ggml.tokens", 9,
                struct.pack("<IQ", 8, n_tokens) + b"".join(st(b"t%d" % i) for i in range(n_tokens))))
    b = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kvs))
    for k, t, v in kvs:
        b += st(k) + struct.pack("<I", t) + v
    b += st(b"token_embd.weight") + struct.pack("<IQQIQ", 2, 4, rows, 0, 0)
    b += b"\0" * (-len(b) % 32)
    return b + struct.pack("<f", 0.25) * (4 * rows)


def main():
    # suites: caps, bytes, syntax, schema
    put("suite_deep_flow.yaml", b"[" * 5000 + b"]" * 5000 + b"\n")
    put("suite_deep_block.yaml", b"".join(b" " * k + b"k%d:\n" % k for k in range(40)))
    put("suite_many_values.yaml", HEAD + b"tasks:\n  - {type: passkey, contexts: [" + b"256, " * 25000 + b"256]}\n")
    put("suite_nul.yaml", HEAD + b"description: a\0b\n" + TASKS)
    put("suite_bad_utf8.yaml", HEAD + b"description: caf\xe9\n" + TASKS)
    put("suite_escape.yaml", HEAD + b"description: \x1b[31mred\n" + TASKS)
    put("suite_c1.yaml", HEAD + b"description: x\xc2\x9b1m\n" + TASKS)
    put("suite_overlong_utf8.yaml", HEAD + b"description: \xc0\xaf\n" + TASKS)
    put("suite_empty.yaml", b"")
    put("suite_syntax.yaml", HEAD + b"tasks: [\n")
    put("suite_two_docs.yaml", HEAD + TASKS + b"---\nname: again\n")
    put("suite_unknown_key.yaml", HEAD + TASKS + b"sead: 3\n")
    put("suite_bad_context.yaml", HEAD + b"tasks:\n  - {type: passkey, contexts: [0], samples: 1}\n")
    put("suite_bad_type.yaml", HEAD + b"tasks:\n  - {type: passkee, contexts: [256]}\n")
    put("suite_list_root.yaml", b"- a\n- b\n")
    # plan files (checksums valid unless the case is the checksum)
    put("plan_window0.purbo", plan(window=0))
    put("plan_block0.purbo", plan(block=0))
    put("plan_sink_huge.purbo", plan(sink=1 << 25))
    put("plan_p2.purbo", plan(p=2.0))
    put("plan_p_nan.purbo", plan(p=float("nan")))
    put("plan_rank0.purbo", plan(r=0))
    put("plan_kv_not_divisor.purbo", plan(heads=3, kv=2, classes=[0, 0, 0]))
    put("plan_bad_class.purbo", plan(classes=[7]))
    put("plan_bad_magic.purbo", plan(magic=b"PURBOPLX"))
    put("plan_version3.purbo", plan(version=3))
    put("plan_rule_order.purbo", plan(version=2, rule=[(3072, 4, 0, 0, 0.65), (1536, 2, 0, 1, 0.0)]))
    put("plan_flags.purbo", plan(flags=1))
    put("plan_bad_checksum.purbo", plan(seal=False))
    put("plan_trailing.purbo", plan()[:-8] + b"\0\0\0\0" + struct.pack("<Q", 0))
    put("plan_truncated.purbo", plan()[:40])
    put("plan_other_model.purbo", plan())
    put("plan_empty.purbo", b"")
    # GGUF headers
    put("gguf_empty.gguf", b"")
    put("gguf_bad_magic.gguf", b"GGUX" + struct.pack("<IQQ", 3, 0, 0))
    put("gguf_version2.gguf", b"GGUF" + struct.pack("<IQQ", 2, 0, 0))
    put("gguf_truncated.gguf", b"GGUF" + struct.pack("<I", 3) + b"\0\0")
    put("gguf_huge_counts.gguf", b"GGUF" + struct.pack("<IQQ", 3, 1 << 60, 1 << 60))
    put("gguf_key_too_long.gguf", b"GGUF" + struct.pack("<IQQQ", 3, 0, 1, 1 << 40))
    # GGUF models whose values parse but would give garbage (refused at open)
    put("gguf_rope_nan.gguf", gguf_model(rope=float("nan")))
    put("gguf_rope_zero.gguf", gguf_model(rope=0.0))
    put("gguf_eps_negative.gguf", gguf_model(eps=-1e-5))
    put("gguf_eps_inf.gguf", gguf_model(eps=float("inf")))
    put("gguf_embd_short.gguf", gguf_model(rows=2, n_tokens=3))
    # baselines for compare
    put("baseline_short_line.txt", b"dense passkey 100\n")
    put("baseline_score_out.txt", b"dense passkey 120.00 1.0 2\n")
    put("baseline_escape.txt", b"dense\x1b]0;owned\x07 passkey\n")
    put("baseline_repeat.txt", b"dense passkey 100.00 - 2\ndense passkey 90.00 - 2\n")
    # prompt files
    put("prompt_nul.txt", b"Hello\0world\n")
    # results databases for report
    put("db_empty.sqlite", b"")
    put("db_text.sqlite", b"this is not a database\n" * 64)
    p = os.path.join(D, "db_foreign.sqlite")
    if os.path.exists(p):
        os.remove(p)
    c = sqlite3.connect(p)
    c.execute("CREATE TABLE notes(x TEXT)")
    c.commit()
    c.close()


if __name__ == "__main__":
    main()
