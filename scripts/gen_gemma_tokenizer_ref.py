#!/usr/bin/env python3
"""gen_gemma_tokenizer_ref.py — writes tests/data/gemma_tokenizer_ref.txt:
test strings and the token ids HF transformers gives them with Gemma-3-270M's
tokenizer, for tests/test_tokenizer_spm.c. Not run by the tests; rerun it only
to change the cases:
    python3 scripts/gen_gemma_tokenizer_ref.py [models/gemma-3-270m-q4_k_m.gguf]
(pip install transformers tokenizers gguf sentencepiece protobuf; the Bible
cases need Debian's bible-kjv).

The reference is Google's `sentencepiece` library run on a model rebuilt from
the file's tokenizer keys (tokens, scores, types; BPE, byte fallback,
identity normalizer with spaces escaped to U+2581, no dummy prefix;
user-defined tokens spelled with U+2581 for their spaces, as the original
model has them, since the GGUF converter wrote them with plain spaces). In
mode S control tokens are cut out of the text first, longest at the leftmost
position, and the spans between go to sentencepiece. The ids of HF
transformers' GemmaTokenizer built from the same file
(AutoTokenizer.from_pretrained(dir, gguf_file=...)) are compared too and the
cases where they differ are listed in the file's header: that tokenizer is
rebuilt from the file differently (merges from scores, added tokens matched
after normalization), e.g. it cuts a run of spaces into 16-space tokens where
sentencepiece (and llama.cpp) take the longest user-defined run (31).

The string cases are those of scripts/gen_tokenizer_ref.py (valid UTF-8 only:
both references take Unicode strings) plus Gemma's own: its special tokens,
chat turns, user-defined runs of newlines, tabs and spaces. Modes: S special
tokens recognised (allow_special=1), T control tokens are text (0).

The whole KJV (`bible -f Gen1:1-Rev22:21`, as engine/model/textsrc.c reads
it) is one more case, stored compactly: its id count and the FNV-1a 64 hash
(of the ids as little-endian u32) of every block of 65,536 ids, so a failing
test names the first block that differs.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_tokenizer_ref as base  # noqa: E402  (the shared string cases)

import sentencepiece as spm  # noqa: E402
import transformers  # noqa: E402
from gguf import GGUFReader  # noqa: E402
from sentencepiece import sentencepiece_model_pb2 as pb  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

OUT = "tests/data/gemma_tokenizer_ref.txt"
BLOCK = 65536


def gemma_cases():
    c = []

    def add(name, s):
        c.append((name, s.encode("utf-8")))

    special = [
        "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>", "<unk>", "<mask>",
        "<start_of_turn>user\nHi<end_of_turn>\n", "a<end_of_turn>b", "<start_of_turn", "<<end_of_turn>>",
        " <start_of_turn> ", "<bos><bos>", "<unused0><unused99>", "<start_of_image>", "[multimodal]",
        "<start_of_turn>model\nThe answer is 42.<end_of_turn>", "<end_of_turn><eos>",
        "text <b>bold</b> <i>it</i>", "<h1>Title</h1>\n<table><tr><td>1</td></tr></table>",
    ]
    for i, s in enumerate(special):
        add("gspecial%02d" % i, s)
    turns = "<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n"
    add("gemma_chat", "<bos>" + turns % "What is the capital of France?")
    add("gemma_chat_system", "<bos>" + turns % "Answer in one word.\n\nName a colour.\nJust one.")
    runs = [
        "\n" * k for k in (1, 2, 3, 5, 9, 31, 32, 40)
    ] + ["\t" * k for k in (1, 2, 7, 31, 33)] + [" " * k for k in (1, 2, 3, 4, 8, 16, 31, 32, 33, 70)] + [
        "a\n\n\nb", "x \n \n y", "\t\n\t\n", "  \t  \n", "if x:\n\t\treturn 1\n\n\n",
        "a" + " " * 20 + "b", "\n \n  \n   \n", "para one.\n\npara two.\n\n\npara three.",
        "▁", "a▁b", "▁▁x", " ▁ ", "__init__", "1 000 000", "3.0e+08 m/s", "ÿ", "\x7f", "\x00",
    ]
    for i, s in enumerate(runs):
        add("grun%02d" % i, s)
    return c


def kjv():
    return subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout


def fnv(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        for b in int(i).to_bytes(4, "little"):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def spm_from_gguf(path):
    """A SentencePiece BPE model rebuilt from the GGUF's tokenizer keys."""
    r = GGUFReader(path)
    f = r.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    f = r.fields["tokenizer.ggml.scores"]
    scores = [float(f.parts[i][0]) for i in f.data]
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    m = pb.ModelProto()
    m.trainer_spec.model_type = pb.TrainerSpec.BPE
    m.trainer_spec.byte_fallback = True
    m.trainer_spec.unk_id = 3
    m.trainer_spec.bos_id = 2
    m.trainer_spec.eos_id = 1
    m.trainer_spec.pad_id = 0
    m.normalizer_spec.name = "identity"
    m.normalizer_spec.add_dummy_prefix = False
    m.normalizer_spec.remove_extra_whitespaces = False
    m.normalizer_spec.escape_whitespaces = True
    kinds = {1: pb.ModelProto.SentencePiece.NORMAL, 2: pb.ModelProto.SentencePiece.UNKNOWN,
             3: pb.ModelProto.SentencePiece.CONTROL, 4: pb.ModelProto.SentencePiece.USER_DEFINED,
             5: pb.ModelProto.SentencePiece.UNUSED, 6: pb.ModelProto.SentencePiece.BYTE}
    for i, (t, s, ty) in enumerate(zip(tokens, scores, types)):
        p = m.pieces.add()
        p.piece = t.replace(" ", "\u2581") if ty == 4 else t
        p.score = s
        p.type = pb.ModelProto.SentencePiece.UNKNOWN if i == 3 else kinds[ty]
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    return sp, [t for t, ty in zip(tokens, types) if ty == 3]


def spm_ids(sp, controls, text, allow_control):
    """sentencepiece's ids, with control tokens (when allowed) cut out first,
    longest at the leftmost position (sentencepiece itself reads them as text)."""
    if not allow_control:
        return sp.encode(text)
    ids, seg, i = [], 0, 0
    by_len = sorted(controls, key=len, reverse=True)
    while i < len(text):
        hit = next((c for c in by_len if text.startswith(c, i)), None)
        if hit is None:
            i += 1
            continue
        ids += sp.encode(text[seg:i]) + [sp.piece_to_id(hit)]
        i += len(hit)
        seg = i
    return ids + sp.encode(text[seg:])


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "models/gemma-3-270m-q4_k_m.gguf"
    d, f = os.path.split(os.path.abspath(model))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    sp, controls = spm_from_gguf(model)
    body, n, same_hf, differ = [], 0, 0, []
    for name, data in base.cases() + gemma_cases():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        has_control = any(s in text for s in controls)
        for mode in ("ST" if has_control else "S"):
            ids = spm_ids(sp, controls, text, mode == "S")
            hf = tok(text, add_special_tokens=False, split_special_tokens=(mode == "T"))["input_ids"]
            if hf == ids:
                same_hf += 1
            else:
                differ.append("%s/%s" % (name, mode))
            body.append("%s\t%s\t%s\t%s" % (name, mode, base.escape(data), " ".join(map(str, ids))))
            n += 1
    text = kjv().decode("utf-8")
    ids = sp.encode(text)
    kjv_hf = tok(text, add_special_tokens=False)["input_ids"] == ids
    body.append("kjv\t%d\t%d" % (len(ids), BLOCK))
    for b in range(0, len(ids), BLOCK):
        body.append("kjvblock\t%d\t%016x" % (b // BLOCK, fnv(ids[b:b + BLOCK])))
    head = [
        "# gemma_tokenizer_ref.txt — reference ids for tests/test_tokenizer_spm.c, written by",
        "# scripts/gen_gemma_tokenizer_ref.py: sentencepiece %s on a model rebuilt from %s" % (spm.__version__, f),
        "# (control tokens cut out first in mode S). HF transformers %s (GemmaTokenizer from the" % (
            transformers.__version__),
        "# same file) gives the same ids on %d of %d cases and %s on the KJV; it differs on:" % (
            same_hf, n, "the same" if kjv_hf else "different ids"),
    ]
    for i in range(0, len(differ), 6):
        head.append("#   " + " ".join(differ[i:i + 6]))
    head += [
        "# One case a line: NAME <tab> MODE <tab> TEXT <tab> IDS (no BOS). MODE S: special",
        "# tokens recognised (allow_special=1); T: control tokens are text (0).",
        "# TEXT escapes \\\\ \\t \\n \\r \\xNN; IDS are space-separated.",
        "# Last: kjv <tab> N_IDS <tab> BLOCK, then kjvblock <tab> I <tab> FNV-1a 64 (hex) lines.",
    ]
    with open(OUT, "w") as o:
        o.write("\n".join(head + body) + "\n")
    print("%s: %d cases, HF agrees on %d; kjv %d ids, HF %s" % (OUT, n, same_hf, len(ids),
                                                               "agrees" if kjv_hf else "differs"))
    print("HF differs on:", " ".join(differ))


if __name__ == "__main__":
    main()
