#!/usr/bin/env python3
"""make_golden.py — reference logits of Gemma-3-270M for the CPU forward tests
(tests/test_forward_gemma.c).

Loads the same GGUF with HF transformers (an independent implementation: its
own GGUF dequantizer (the gguf package), its own Gemma3 modeling code, with
the family facts the file lacks from transformers' own Gemma3 config: layer
types, sliding window 512, RoPE base 10,000 on sliding layers, 1e6 on global
ones; it takes 1 off the file's norm weights and adds it back in the model),
and runs each prompt_*.txt, BOS first, through it in float64 on the CPU. It
writes NAME.golden: the token ids and, at the checked positions, the top-8
next-token (id, logit). Every position is checked for the short prompts; the
long one (4,707 tokens, past the 512-token window, so the global layers see
what the sliding ones cannot) at the positions listed in LONG_POSITIONS. It
also runs float32 and records max |f32 - f64| over those logits: the noise
any f32 implementation carries, which bounds the tolerance the tests use.

Run where torch + transformers + gguf are installed:
    python3 make_golden.py MODEL.gguf OUTDIR
Not run by the tests; its output files are committed.
"""
import glob
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

LONG_POSITIONS = [0, 1, 2, 3, 100, 255, 256, 500, 510, 511, 512, 513, 514, 700, 1000, 1023, 1024, 1500,
                  2047, 2048, 2500, 3000, 3500, 4000, 4095, 4096, 4500]
TOPK = 8

model_path, outdir = sys.argv[1], sys.argv[2]
d, f = os.path.split(os.path.abspath(model_path))
torch.set_num_threads(max(1, os.cpu_count() or 1))
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
m32 = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                           attn_implementation="eager").eval()
m64 = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                           attn_implementation="eager").eval().to(torch.float64)


def logits_at(m, x, pos):
    """Next-token logits at positions pos: the final hidden states (after the
    model's last norm) times the tied output matrix, only where needed."""
    with torch.no_grad():
        h = m.model(x).last_hidden_state[0, pos]
        return m.lm_head(h)


here = os.path.dirname(os.path.abspath(__file__))
for p in sorted(glob.glob(os.path.join(here, "prompt_*.txt"))):
    name = os.path.basename(p)[len("prompt_"):-len(".txt")]
    text = open(p, encoding="utf-8").read()
    ids = tok(text)["input_ids"]  # BOS, then the text (special tokens recognised)
    assert ids[0] == tok.bos_token_id
    pos = [t for t in LONG_POSITIONS if t < len(ids) - 1] + [len(ids) - 1] if len(ids) > 600 else list(range(len(ids)))
    x = torch.tensor([ids])
    l64 = logits_at(m64, x, pos)
    l32 = logits_at(m32, x, pos).to(torch.float64)
    top_v, top_i = torch.topk(l64, TOPK, dim=-1)
    noise = (l32.gather(1, top_i) - top_v).abs().max().item()
    gap = (top_v[:, 0] - top_v[:, 1]).min().item()
    with open(os.path.join(outdir, name + ".golden"), "w") as o:
        o.write("# golden logits for prompt_%s.txt (BOS first): HF transformers %s, torch %s, float64 CPU\n"
                % (name, transformers.__version__, torch.__version__))
        o.write("# model %s\n" % f)
        o.write("# max |f32 - f64| over the top-%d logits: %.3e; min top1-top2 gap: %.3e\n"
                % (TOPK, noise, gap))
        o.write("n_tokens %d\n" % len(ids))
        o.write("ids %s\n" % " ".join(map(str, ids)))
        o.write("topk %d\n" % TOPK)
        o.write("checked %d\n" % len(pos))
        for r, t in enumerate(pos):
            o.write("%d %s\n" % (t, " ".join("%d:%.6f" % (int(i), float(v))
                                             for i, v in zip(top_i[r], top_v[r]))))
    print(name, len(ids), "tokens,", len(pos), "positions; f32 noise %.3e; min gap %.3e" % (noise, gap))
