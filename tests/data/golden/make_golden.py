#!/usr/bin/env python3
"""make_golden.py — reference logits for the forward-pass tests.

Loads the same GGUF with HF transformers (an independent implementation: its
own GGUF dequantizer, its own un-permutation of q/k, rotate-half RoPE), runs
each prompt_*.txt through it in float64 on the CPU, and writes NAME.golden:
the token ids and, for every position, the top-8 next-token (id, logit). It
also runs float32 and records max |f32 - f64| over those logits: the noise
any f32 implementation carries, which bounds the tolerance the tests use.

Run where torch + transformers + gguf are installed:
    python3 make_golden.py MODEL.gguf OUTDIR
Not run by the tests; its output files are committed.
"""
import glob, os, sys
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

model_path, outdir = sys.argv[1], sys.argv[2]
d, f = os.path.split(os.path.abspath(model_path))
torch.set_num_threads(max(1, os.cpu_count() or 1))
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
m32 = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                           attn_implementation="eager").eval()
m64 = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32,
                                           attn_implementation="eager").eval().to(torch.float64)
TOPK = 8
here = os.path.dirname(os.path.abspath(__file__))
for p in sorted(glob.glob(os.path.join(here, "prompt_*.txt"))):
    name = os.path.basename(p)[len("prompt_"):-len(".txt")]
    text = open(p, encoding="utf-8").read()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    x = torch.tensor([ids])
    with torch.no_grad():
        l64 = m64(x).logits[0]
        l32 = m32(x).logits[0].to(torch.float64)
    top_v, top_i = torch.topk(l64, TOPK, dim=-1)
    noise = (l32.gather(1, top_i) - top_v).abs().max().item()
    gap = (top_v[:, 0] - top_v[:, 1]).min().item()
    with open(os.path.join(outdir, name + ".golden"), "w") as o:
        o.write("# golden logits for prompt_%s.txt: HF transformers %s, torch %s, float64 CPU\n"
                % (name, transformers.__version__, torch.__version__))
        o.write("# model %s\n" % f)
        o.write("# max |f32 - f64| over the top-%d logits: %.3e; min top1-top2 gap: %.3e\n"
                % (TOPK, noise, gap))
        o.write("n_tokens %d\n" % len(ids))
        o.write("ids %s\n" % " ".join(map(str, ids)))
        o.write("topk %d\n" % TOPK)
        for t in range(len(ids)):
            o.write("%d %s\n" % (t, " ".join("%d:%.6f" % (int(i), float(v))
                                              for i, v in zip(top_i[t], top_v[t]))))
    print(name, len(ids), "tokens; f32 noise %.3e; min gap %.3e" % (noise, gap))
