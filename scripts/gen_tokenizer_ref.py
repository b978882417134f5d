#!/usr/bin/env python3
"""gen_tokenizer_ref.py — writes tests/data/tokenizer_ref.txt: test strings
and the token ids an independent tokenizer gives them, for
tests/test_tokenizer.c. Not run by the tests; rerun it only to change the
cases (python3 scripts/gen_tokenizer_ref.py [MODEL.gguf]).

The reference is HF `tokenizers` (pip install tokenizers gguf; the Bible
cases need Debian's bible-kjv) built from the vocabulary, merges and token
types of the GGUF file the way SmolLM2's tokenizer.json is set up: BPE over
those merges, pre-tokenizer Digits(individual_digits) then ByteLevel (GPT-2
regex, no prefix space), token-type-3 tokens as special added tokens.

HF can only encode valid UTF-8 (its input is a Rust string). For strings with
invalid bytes the reference is put together from HF parts: each invalid byte
is replaced by U+FFFD for HF's pre-tokenizer, which gives the piece
boundaries; each piece's original bytes then go through the byte map and
HF's BPE model. For valid strings the script checks that this piecewise
route gives the same ids as a plain encode.
"""
import random
import subprocess
import sys

import tokenizers
from gguf import GGUFReader
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

OUT = "tests/data/tokenizer_ref.txt"


def load_gguf(path):
    r = GGUFReader(path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = strings("tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    pre = bytes(r.fields["tokenizer.ggml.pre"].parts[-1]).decode()
    assert pre == "smollm", pre
    return tokens, merges, types


def build(tokens, merges, types):
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab, pairs))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(tokens, types) if ty == 3])
    return tok


def byte_map():
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    m, n = {}, 0
    for b in range(256):
        if b in keep:
            m[b] = chr(b)
        else:
            m[b] = chr(256 + n)
            n += 1
    return m


BYTE_MAP = byte_map()


def piecewise(tok, data):
    """Ids of bytes `data` (no special tokens in it) via HF's pre-tokenizer
    on a stand-in string and HF's BPE on the original bytes of each piece."""
    text = data.decode("utf-8", errors="surrogateescape")
    spans, off = [], 0          # byte span of each character of `text`
    for ch in text:
        n = 1 if 0xDC80 <= ord(ch) <= 0xDCFF else len(ch.encode("utf-8"))
        spans.append((off, off + n))
        off += n
    stand_in = "".join("\ufffd" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text)
    ids = []
    for _, (a, b) in tok.pre_tokenizer.pre_tokenize_str(stand_in):
        piece = data[spans[a][0]:spans[b - 1][1]]
        ids += [t.id for t in tok.model.tokenize("".join(BYTE_MAP[x] for x in piece))]
    return ids


def bible(ref):
    return subprocess.run(["bible", "-f", ref], check=True, capture_output=True).stdout


def cases():
    """(name, bytes); names are unique and have no spaces."""
    c = []

    def add(name, s):
        c.append((name, s.encode("utf-8") if isinstance(s, str) else s))

    prose = [
        "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "A", "a", "I", "Hello", " Hello", "hello world", "HELLO WORLD",
        "This is a test of the tokenizer.", "Mr. Smith went to Washington, D.C., in May.",
        "She said, \"It's fine.\"", "e.g. i.e. etc. vs.", "tokenization antidisestablishmentarianism",
        "Supercalifragilisticexpialidocious", "The U.S.A. and the U.K.",
        "What is the capital of France?", "Paris is the capital of France.",
        "semi-colon; colon: dash - em—dash – en", "CamelCaseWordsLikeThis", "snake_case_words_like_this",
        "ALL CAPS SHOUTING", "mIxEd CaSe", "word" * 20, "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
        "Q: Why?\nA: Because.", "end.", "(parenthetical) [bracketed] {braced} <angled>",
        "email: someone@example.com", "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
    ]
    for i, s in enumerate(prose):
        add("prose%02d" % i, s)

    code = [
        "int main(void) { return 0; }",
        "#include <stdio.h>\n\nint main(int argc, char **argv)\n{\n    printf(\"%d\\n\", argc);\n    return 0;\n}\n",
        "def f(x):\n    return x ** 2\n",
        "for i in range(10):\n\tprint(i)\n",
        "if (a && b || !c) { x += 1; } else { x -= 1; }",
        "{\"key\": \"value\", \"n\": 42, \"list\": [1, 2, 3], \"ok\": true}",
        "<html><body><p class=\"x\">Hi</p></body></html>",
        "SELECT * FROM users WHERE id = 7;",
        "#!/bin/sh\nset -eu\necho \"$HOME\" | grep -v '^#' >/dev/null 2>&1\n",
        "x = [a for a in b if a != None]  # comment",
        "const f = (a, b) => a === b ? a : b;",
        "std::vector<int> v{1,2,3};",
        "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
        "    indented with four spaces",
        "\t\tindented with two tabs",
        "a->b->c; p++; --q; x<<=2; y>>=3;",
        "regex: ^[a-z]+\\d{2,3}$",
        "path/to/some_file.c:123:45: error: expected ';'",
        "mov eax, [ebx+4*ecx]",
        "@decorator\nclass Foo(Bar):\n    pass\n",
    ]
    for i, s in enumerate(code):
        add("code%02d" % i, s)

    digits = [
        "0", "1", "12", "123", "1234567890", "3.14159", "1,000,000", "2024-11-27",
        "0x1F", "1e-10", "v1.2.3", "+1 (555) 123-4567", "a1b2c3", " 1", "  12", "x 1 y",
        "99 bottles", "$100.00", "100%", "12345678901234567890123456789012345678901234567890",
        "1st 2nd 3rd 4th", "Gen1:1", "10:30pm", "-42", "1/2 + 3/4", "007",
    ]
    for i, s in enumerate(digits):
        add("digits%02d" % i, s)

    ws = [
        "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\t \n",
        "a b", "a  b", "a   b", "a\tb", "a \tb", "a\t b", "a\nb", "a\n\nb", "a \n b",
        "a ", "a  ", "a\n", "a\t", " a", "  a", "\ta", "\n\na", "a \n", "x\n\n\n\ny",
        "a\u00a0b", "a \u00a0b", "a\u3000b", "a\u2028b", "a\u0085b", "\u2003\u2003a",
        "line1\r\nline2\r\n", " \t \t x", "  1  2  ", "a\x0bb\x0cc",
    ]
    for i, s in enumerate(ws):
        add("space%02d" % i, s)

    contractions = [
        "it's", "IT'S", "It'S", "don't", "DON'T", "we'll", "WE'LL", "they've", "I'm", "you'd",
        "we're", "'s", "''s", " 's", "'sX", "rock'n'roll", "O'Neil", "'ll've'd", "x 'll",
        "it’s (curly)", "'", "''", "'re'", "can't won't shan't",
    ]
    for i, s in enumerate(contractions):
        add("contr%02d" % i, s)

    punct = [
        "!!!", "...", "?!", "--", "a...b", "(a)", "[[x]]", "@@", "<<>>", "~~~", "!!! ???",
        " !!", "a!!b", "!?!?!?", "***bold***", "===", "->", "=>", "::", ";;", "\"\"\"",
        "#$%&", "¡Hola!", "¿Qué?", "«quoted»", "—", "…", "•", "©®™",
    ]
    for i, s in enumerate(punct):
        add("punct%02d" % i, s)

    uni = [
        "café", "naïve", "Ångström", "e\u0301", "cafe\u0301", "a\u0300\u0301\u0302",
        "Z\u0351\u0352\u0353a\u0354l\u0355g\u0356o", "Ελληνικά", "Привет, мир!",
        "مرحبا بالعالم", "שלום עולם", "你好，世界", "こんにちは世界", "안녕하세요",
        "สวัสดีครับ", "नमस्ते दुनिया", "தமிழ்", "😀", "👍🏽", "👨\u200d👩\u200d👧\u200d👦",
        "🇫🇷🇩🇪", "I ❤️ NY", "a\u200bb", "a\u200cb", "\ufeffhello", "\u200fRTL mark",
        "∑ x² + y³", "½ ¼ ¾", "Ⅻ Ⅳ", "١٢٣ ٤٥", "１２３", "ＡＢＣ", "ﬁ ﬂ", "𝐀𝐁𝐂",
        "\U0010ffff", "\ue000", "\U0001e030", "mixed English 中文 русский 😀 ok",
        "x²", "٣a", "\u0300", "\u00ad", "①②③", "Ⅷ8", "ab\u0301c",
    ]
    for i, s in enumerate(uni):
        add("uni%02d" % i, s)

    bad = [
        b"\xff", b"\x80", b"abc\xffdef", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82\xac",
        b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
        b" \xff", b"\xff ", b"a \xff\xfe b", b"1\xff2", b"'\xffs", b"a\x00b",
        b"\x01\x02\x1b[0m", b"hello\xe2\x80world", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80\xf0\x9f",
        b"caf\xe9", b"\xfe\xff\x00h\x00i", b"\xc3\xa9\xa9",
        # bytes with no token in this vocabulary (dropped; neighbours may merge)
        b"!\x04!", b"a\x04b", b"\x04", b"x\xf5\xf5y", b" \x04a", b"\xf1\x80\x80\x80",
        b"==\x13==", b"\x1d\x1d", b"..\xff..", b"\xc0\xc1",
    ]
    for i, s in enumerate(bad):
        add("bytes%02d" % i, s)

    special = [
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "a<|im_end|>b", "<|im_start|><|im_end|>",
        "<|im_start", "<|im_start|", "<<|im_end|>>", " <|im_end|> ", "<|endoftext|>\n",
        "<repo_name>x<file_sep>y", "<|im_end|><|im_end|>", "<empty_output>", "<|im_end|>1",
        "user<|im_end|>\n<|im_start|>assistant\n", "<jupyter_code>print(1)<jupyter_output>1",
    ]
    for i, s in enumerate(special):
        add("special%02d" % i, s)

    chat = "<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n"
    add("chatml_default", chat % ("You are a helpful AI assistant named SmolLM, trained by Hugging Face",
                                  "What is the capital of France?"))
    add("chatml_custom", chat % ("Answer in one word.", "Name a colour.\nJust one."))

    long = [
        "a" * 1000, " " * 1000, "1" * 300, "\n" * 100, "!" * 500, "ab" * 500, "\t" * 64,
        "aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQgZW5jb2RlZCB0ZXh0IGZvciB0ZXN0aW5n" * 4,
        "😀" * 50, "x" + " " * 50 + "y", "\u00e9" * 200,
    ]
    for i, s in enumerate(long):
        add("long%02d" % i, s)

    add("bible_gen1-3", bible("Gen1:1-Gen3:24"))
    add("bible_ps23", bible("Ps23:1-Ps23:6"))
    add("bible_john1", bible("John1:1-John1:14"))
    add("bible_esther8_9", bible("Esth8:9"))

    rng = random.Random(20261127)
    alphabet = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                + list(" \t\n\r'!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~")
                + [" "] * 10 + list("éüñçßøЖЯ中文字😀🏽\u0301\u200b\u00a0\u3000٣²½Ⅻ"))
    for i in range(40):
        add("random%02d" % i, "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80))))
    for i in range(10):
        add("randbytes%02d" % i, bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))))
    return c


def escape(b):
    out = []
    for x in b:
        if x == 0x5C:
            out.append("\\\\")
        elif 0x20 <= x <= 0x7E:
            out.append(chr(x))
        elif x == 0x0A:
            out.append("\\n")
        elif x == 0x09:
            out.append("\\t")
        elif x == 0x0D:
            out.append("\\r")
        else:
            out.append("\\x%02x" % x)
    return "".join(out)


def main():
    model = sys.argv[1] if len(sys.argv) > 1 else "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    tokens, merges, types = load_gguf(model)
    tok = build(tokens, merges, types)
    specials = [t for t, ty in zip(tokens, types) if ty == 3]
    vocab = set(tokens)
    lines = [
        "# tokenizer_ref.txt — reference ids for tests/test_tokenizer.c, written by",
        "# scripts/gen_tokenizer_ref.py: HF tokenizers %s over the vocabulary and" % tokenizers.__version__,
        "# merges of %s (pre-tokenizer Digits + ByteLevel)." % model.split("/")[-1],
        "# One case a line: NAME <tab> MODE <tab> TEXT <tab> IDS. MODE S: special",
        "# tokens recognised (allow_special=1); T: special tokens are text (0).",
        "# TEXT escapes \\\\ \\t \\n \\r \\xNN; IDS are space-separated.",
    ]
    n = 0
    for name, data in cases():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        has_special = text is not None and any(s in text for s in specials)
        modes = "ST" if has_special else "S"
        for mode in modes:
            if text is None:
                ids = piecewise(tok, data)
            else:
                tok.encode_special_tokens = mode == "T"
                ids = tok.encode(text, add_special_tokens=False).ids
                if not has_special:
                    assert ids == piecewise(tok, data), name
                kept = bytes(x for x in data if BYTE_MAP[x] in vocab)  # bytes with no token drop
                assert tok.decode(ids, skip_special_tokens=False) == kept.decode("utf-8", "replace"), name
            lines.append("%s\t%s\t%s\t%s" % (name, mode, escape(data), " ".join(map(str, ids))))
            n += 1
    tok.encode_special_tokens = False
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d cases" % (OUT, n))


if __name__ == "__main__":
    main()
