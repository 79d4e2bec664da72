#!/usr/bin/env python3
"""Build a varied JSONL corpus of {"text": ...} lines for tokenizer parity checks (deterministic).

Usage: make_corpus.py SHARED_DIR OUT.jsonl [--random N] [--stdlib N] [--seed S]

Sections: every text file under SHARED_DIR (whole and by paragraph; parity-cases texts included),
every string, message content and JSON-serialised tool call in its JSON/JSONL files, random Unicode
strings (all planes, recently assigned code points, combining marks, whitespace, digits of many
scripts), multilingual sentences, Python stdlib source files, long whitespace runs, digit runs,
contractions and special-token look-alikes.
"""
import argparse
import glob
import json
import os
import random
import sys
import sysconfig
import unicodedata

MULTILINGUAL = [
    "The quick brown fox jumps over the lazy dog.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "Voix ambiguë d'un cœur qui, au zéphyr, préfère les jattes de kiwis.",
    "El veloz murciélago hindú comía feliz cardillo y kiwi.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "我能吞下玻璃而不伤身体。这是一个测试，包含中文标点！",
    "私はガラスを食べられます。それは私を傷つけません。カタカナとひらがな",
    "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요",
    "أنا قادر على أكل الزجاج و هذا لا يؤلمني. ١٢٣٤٥٦٧٨٩٠",
    "אני יכול לאכול זכוכית וזה לא מזיק לי.",
    "मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती. ०१२३४५६७८९",
    "ฉันกินกระจกได้ แต่มันไม่ทำให้ฉันเจ็บ",
    "Tôi có thể ăn thủy tinh mà không hại gì. Việc này không khó.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy. Soubor nenalezen.",
    "Pijamalı hasta yağız şoföre çabucak güvendi. İstanbul'da ılık.",
    "Μπορώ να φάω σπασμένα γυαλιά χωρίς να πάθω τίποτα.",
    "ཤེལ་སྒོ་ཟ་ནས་ང་ན་གི་མ་རེད།",
    "Emoji: 👩‍👩‍👧‍👦 🇩🇪 👍🏽 ❤️ 🏳️‍🌈 🧑🏿‍💻 and text.",
    "Math: ∀x∈ℝ, x² ≥ 0; ∑ᵢ aᵢ = ∫₀¹ f(x) dx ≈ 3.14159… ½ ⅓ Ⅷ ⁂",
    "Full-width: ＡＢＣ１２３　ｘｙｚ。Half: ｱｲｳ",
    "Combining: cafe\u0301 e\u0301te\u0301 n\u0303 A\u030a \u1100\u1161\u11a8 Z\u0335\u0327",
    "Ligatures ﬁ ﬂ ﬀ, long s ſ, 'ſ 'ſt 'S 'T 'RE 'Ve 'M 'LL 'D, ß ẞ, K Kelvin K Å",
]

SPECIALS = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", "<|python_tag|>",
            "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
            "<|file_sep|>", "<|reserved_special_token_7|>", "<|eom_id|>", "<|finetune_right_pad_id|>"]

RECENT_RANGES = [  # blocks with code points assigned in Unicode 13-17
    (0x0870, 0x089F), (0x0C5C, 0x0C5D), (0x0CDC, 0x0CDD), (0x1C89, 0x1C8A), (0x2427, 0x2429), (0x31E4, 0x31E5),
    (0xA7C0, 0xA7DC), (0xA7F1, 0xA7F2), (0x10940, 0x1095F), (0x105C0, 0x105F3), (0x10D40, 0x10D8F),
    (0x10EC0, 0x10EFF), (0x11380, 0x113E2), (0x11B00, 0x11B09), (0x11BC0, 0x11BF9), (0x11DB0, 0x11DEF),
    (0x11F00, 0x11F5A), (0x13460, 0x143FA), (0x16100, 0x16139), (0x16D40, 0x16D79), (0x16EA0, 0x16EDF),
    (0x16FF0, 0x16FF6), (0x187F8, 0x187FF), (0x18D00, 0x18DFF), (0x1CC00, 0x1CEB3), (0x1E030, 0x1E08F),
    (0x1E4D0, 0x1E4F9), (0x1E5D0, 0x1E5FF), (0x1E6C0, 0x1E6FF), (0x1F8B0, 0x1F8BB), (0x1FA70, 0x1FAFF),
    (0x2B73A, 0x2B73F), (0x2CEA2, 0x2CEAD), (0x2EBF0, 0x2EE5D), (0x31350, 0x323AF), (0x323B0, 0x33479),
]
WHITESPACE = [" ", "\t", "\n", "\r", "\r\n", "\u000b", "\u000c", "\u0085", "\u00a0", "\u1680", "\u2000",
              "\u2007", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u200b", "\u180e", "\ufeff"]
DIGITS = ["0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "০১২৩৪৫৬৭৮৯", "０１２３４５６７８９",
          "ⅠⅡⅢⅣⅤⅥⅦⅧ", "①②③④⑤", "¹²³⁴⁵", "𝟎𝟏𝟐𝟑", "〇一二三", "𒐀𒐁"]
COMBINING = [0x0300, 0x0301, 0x0302, 0x0303, 0x0308, 0x030A, 0x030C, 0x0316, 0x0323, 0x0327, 0x0328, 0x0331,
             0x0345, 0x05B0, 0x0653, 0x093C, 0x0B3E, 0x0BBE, 0x0CC2, 0x0D3E, 0x1161, 0x11A8, 0x3099, 0x309A,
             0x1D165, 0x1D16E, 0x0F71, 0x0F72,
             # combining marks and composition parts assigned after Unicode 9.0 (HF's normalization data)
             0x1DF6, 0x1DFA, 0x0898, 0x08D3, 0x0C3C, 0x16FF0, 0x16FF1, 0x1E4EC, 0x113CE, 0x11F41, 0x1E5EE,
             0x16D67, 0x1611E, 0x1611F, 0x113B8, 0x113C2, 0x113C9, 0x16D63, 0x11F42]


def random_scalar(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25:
        cp = rng.randint(0x20, 0x7E)
    elif r < 0.35:
        cp = rng.randint(0xA0, 0x24F)
    elif r < 0.6:
        cp = rng.randint(0x250, 0xFFFD)
    elif r < 0.7:
        lo, hi = rng.choice(RECENT_RANGES)
        cp = rng.randint(lo, hi)
    elif r < 0.78:
        cp = rng.choice(COMBINING)
    elif r < 0.85:
        return rng.choice(WHITESPACE)
    elif r < 0.9:
        return rng.choice(rng.choice(DIGITS))
    elif r < 0.93:
        return rng.choice("'sStTrReEvVmMlLdDſ")
    else:
        cp = rng.randint(0x10000, 0x10FFFF)
    if 0xD800 <= cp < 0xE000:
        cp = 0xFFFD
    return chr(cp)


def walk_json(v, out: list) -> None:
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, list):
        for x in v:
            walk_json(x, out)
    elif isinstance(v, dict):
        for key in ("tool_calls", "function_call"):
            calls = v.get(key)
            if isinstance(calls, list):
                out.extend(json.dumps(c, ensure_ascii=False) for c in calls)
            elif isinstance(calls, dict):
                out.append(json.dumps(calls, ensure_ascii=False))
        if "name" in v and ("arguments" in v or "kwargs" in v):
            out.append(json.dumps(v, ensure_ascii=False))
        for x in v.values():
            walk_json(x, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("shared")
    ap.add_argument("out")
    ap.add_argument("--random", type=int, default=5000)
    ap.add_argument("--stdlib", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261124)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    texts: list = []
    counts = {}

    def section(name: str, items) -> None:
        items = [t for t in items if isinstance(t, str) and t]
        counts[name] = len(items)
        texts.extend(items)

    files = sorted(p for p in glob.glob(os.path.join(a.shared, "**", "*"), recursive=True) if os.path.isfile(p))
    plain, structured = [], []
    for p in files:
        if os.path.basename(p) == "tokenizer.json":
            continue
        try:
            raw = open(p, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        if p.endswith(".jsonl"):
            for line in raw.splitlines():
                try:
                    walk_json(json.loads(line), structured)
                except json.JSONDecodeError:
                    plain.append(line)
            continue
        if p.endswith(".json"):
            try:
                walk_json(json.loads(raw), structured)
            except json.JSONDecodeError:
                pass
        if len(raw) <= 200_000:
            plain.append(raw)
        plain.extend(x for x in raw.split("\n\n") if x.strip())
    section("shared text files and paragraphs", plain)
    seen = set()
    section("shared JSON strings, contents and tool calls", [s for s in structured if not (s in seen or seen.add(s))])
    section("random unicode", ["".join(random_scalar(rng) for _ in range(rng.randint(1, 80))) for _ in range(a.random)])
    words = [w for t in MULTILINGUAL for w in t.split()]
    section("multilingual", MULTILINGUAL + [" ".join(rng.choice(words) for _ in range(rng.randint(2, 40)))
                                            for _ in range(1000)])
    section("NFC-sensitive", [unicodedata.normalize(form, t) for t in MULTILINGUAL for form in ("NFD", "NFKD")] +
            ["".join(rng.choice(["a", "e", "o", "A", "n", "c", "s", "Z", "\u1100", "\u1161", "\U00016D63", "\U00016D67",
                                               "\U0001611E", "\U000113B8", "\u0B47", "\u0915"]) + "".join(chr(rng.choice(COMBINING))
                                                            for _ in range(rng.randint(0, 3)))
                     for _ in range(rng.randint(1, 20))) for _ in range(3000)])
    stdlib = sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py")))
    rng.shuffle(stdlib)
    section("python stdlib source", [open(p, encoding="utf-8", errors="replace").read() for p in stdlib[:a.stdlib]])
    ws = []
    for _ in range(300):
        ws.append("".join(rng.choice(WHITESPACE) * rng.randint(1, 50) + rng.choice(["x", "1", "!", "", "é", "\n"])
                          for _ in range(rng.randint(1, 6))))
    ws += [" " * n for n in (1, 2, 3, 17, 256, 4096)] + ["\n" * 300, "\t" * 1000 + "a", " \n" * 500, "a" + " " * 10000 + "b"]
    section("whitespace runs", ws)
    section("digits", ["".join(rng.choice(rng.choice(DIGITS)) for _ in range(rng.randint(1, 30))) +
                       rng.choice(["", " ", ".", "x", "１"]) for _ in range(500)] +
            [str(rng.randint(0, 10**30)) for _ in range(200)] + ["3.14159e-10 -42 1,000,000 0x1F 2024-04-07T12:00:00Z"])
    section("contractions", ["".join(rng.choice(["'s", "'S", "'ſ", "'t", "'re", "'RE", "'Ve", "'ll", "'LL", "'d",
                                                 "'m", "'", "''", "x", " ", "don", "'x", "\n", "’s"])
                                     for _ in range(rng.randint(1, 20))) for _ in range(400)])
    section("special-token look-alikes", ["".join(rng.choice(SPECIALS + ["<|", "|>", "<", ">", " ", "a", "\n", "<tool_call"])
                                                  for _ in range(rng.randint(1, 12))) for _ in range(400)])
    section("long words and base64", ["".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
                                              for _ in range(rng.randint(50, 3000))) for _ in range(50)] +
            ["".join(rng.choice("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年") for _ in range(rng.randint(50, 1500)))
             for _ in range(50)] + ["ab" * 2000, "a" * 5000, "🙂" * 700])

    with open(a.out, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    for k, v in counts.items():
        print(f"{v:7d}  {k}", file=sys.stderr)
    print(f"{len(texts):7d}  total, {sum(len(t.encode()) for t in texts)} bytes -> {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
