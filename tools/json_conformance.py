#!/usr/bin/env python3
"""Compare trajforge's JSON parser with Python's json on a corpus of edge cases and fuzzed inputs.

For every line of the corpus both parsers must agree on accept/reject; accepted lines must give
the same value (strings exact, numbers compared as Decimal, object key order and Python's
duplicate-key rule included); and where every number is already in Python's own printed form, the
canonical text must be byte-identical to
    json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).

Documented, deliberate differences (counted, not failures):
  * NaN / Infinity / -Infinity literals: a non-standard Python extension; trajforge rejects them.
  * Lone UTF-16 surrogates in \\u escapes: Python builds a str that cannot be encoded as UTF-8;
    trajforge rejects them (they cannot be written to UTF-8 output).

usage: json_conformance.py [path/to/trajforge] [--fuzz N]
"""
import decimal
import json
import random
import subprocess
import sys

EDGE_CASES = [
    # scalars and numbers
    'null', 'true', 'false', '0', '-0', '1', '-1', '12345678901234567890123', '1.0', '-0.0', '1.5e3', '1E400', '-1e-400',
    '2.50', '0.1', '1e5', '1E+2', '1e-2', '123.456e-789', '9007199254740993', '0.30000000000000004',
    '01', '1.', '.5', '+1', '-', '1e', '1e+', '0x10', '1_000', '- 1', '--1', 'NaN', 'Infinity', '-Infinity', 'nan',
    # strings and escapes
    '""', '"a"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\u0000"', '"\\u00e9"', '"\\u00E9"', '"é"', '"😀"', '"\\ud83d\\ude00"',
    '"\\ud83d"', '"\\ude00"', '"\\ud83d\\u0041"', '"\\ud83dx"', '"\\u12"', '"\\u12G4"', '"\\x41"', '"\\a"', '"\\\'"',
    '"unterminated', '"a\tb"', '"a\x01b"', '"a\x7fb"', '"\u2028\u2029"', '"\ufeff"', '"\U0010ffff"', "'single'",
    # containers
    '[]', '{}', '[1,2,3]', '[1,]', '[,1]', '[1 2]', '[1,,2]', '{"a":1}', '{"a":1,}', '{"a" 1}', '{a:1}', '{"a":}',
    '{"a":1,"a":2}', '{"b":1,"a":2,"b":3}', '{"":0}', '{"\\u0061":1,"a":2}', '[[[[[]]]]]', '{"a":{"b":{"c":[{}]}}}',
    '[1]]', '{"a":1}}', '[', '{', ']', '}', '{"a":[1,{"b":null}],"c":"d"}',
    # whitespace
    ' 1 ', '\t[ 1 , 2 ]\t', '\r{"a" : 1}\r', '1 2', '[1] x', '\ufeff1', '\x0c1',
    # key ordering for sort_keys (code point order, incl. astral characters)
    '{"b":1,"a":2,"A":3,"é":4,"z":5,"😀":6,"\uffff":7,"":8}',
    # deep nesting
    '[' * 500 + ']' * 500,
    '[' * 100000 + ']' * 100000,
    # a chat-like record
    '{"messages":[{"role":"user","content":"Hi \\u00e9 😀"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1",'
    '"type":"function","function":{"name":"f","arguments":"{\\"x\\": 1.0}"}}]}],"reward":0.9299999999999999}',
]


class Num:
    """A number kept as its text; equal to another when their decimal values are equal."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def value(self):
        try:
            return decimal.Decimal(self.text)
        except decimal.DecimalException:
            return self.text

    def __eq__(self, other):
        return isinstance(other, Num) and self.value() == other.value()


def python_parse(text):
    """('ok', value) or ('error', message) or ('extension', message) for the documented differences."""
    try:
        value = json.loads(text, parse_float=Num, parse_int=Num,
                           object_pairs_hook=lambda pairs: ("obj", list(dict(pairs).items())))
    except (ValueError, RecursionError) as e:
        return ("error", str(e))
    if has_nonfinite(value):
        return ("extension", "NaN/Infinity")
    if has_lone_surrogate(value):
        return ("extension", "lone surrogate")
    return ("ok", value)


def has_nonfinite(v):
    if isinstance(v, float):  # only NaN / Infinity literals reach parse_constant's default: floats
        return True
    if isinstance(v, tuple):
        return any(has_nonfinite(x) for _, x in v[1]) or any(has_lone_surrogate(k) for k, _ in v[1])
    if isinstance(v, list):
        return any(has_nonfinite(x) for x in v)
    return False


def has_lone_surrogate(v):
    if isinstance(v, str):
        try:
            v.encode("utf-8")
            return False
        except UnicodeEncodeError:
            return True
    if isinstance(v, tuple):
        return any(has_lone_surrogate(k) or has_lone_surrogate(x) for k, x in v[1])
    if isinstance(v, list):
        return any(has_lone_surrogate(x) for x in v)
    return False


def python_dump(text, sort_keys):
    value = json.loads(text)
    return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def numbers_are_python_printed(text):
    """True when every number in `text` is written exactly as Python's json.dumps prints it; then
    trajforge (which keeps number text) and Python must produce byte-identical JSON."""
    texts = []
    def keep(s):
        texts.append(s)
        return 0
    try:
        json.loads(text, parse_float=keep, parse_int=keep)
    except Exception:
        return False
    for s in texts:
        if any(c in s for c in ".eE"):
            f = float(s)
            if f != f or f in (float("inf"), float("-inf")) or json.dumps(f) != s:
                return False
        elif str(int(s)) != s:
            return False
    return True


def fuzz_cases(n, seed=20261124):
    rng = random.Random(seed)
    alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', 'u', '0', '1', '9', '.', 'e', '-', '+', ' ', 'n', 't', 'f', 'é', '😀', 'a']

    def value(depth):
        r = rng.random()
        if depth > 3 or r < 0.3:
            return rng.choice([None, True, False, rng.randint(-10**20, 10**20), rng.random() * 10 ** rng.randint(-8, 20),
                               "".join(rng.choice("ab\"\\\n\t\x01é😀\u2028") for _ in range(rng.randint(0, 8)))])
        if r < 0.65:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return {"".join(rng.choice("abé😀") for _ in range(rng.randint(0, 3))): value(depth + 1) for _ in range(rng.randint(0, 4))}

    out = []
    for _ in range(n):
        text = json.dumps(value(0), ensure_ascii=rng.random() < 0.3, indent=rng.choice([None, None, 1]))
        text = text.replace("\n", " ")
        if rng.random() < 0.5:  # mutate: delete, insert or replace a character
            chars = list(text)
            for _ in range(rng.randint(1, 3)):
                op = rng.random()
                pos = rng.randrange(len(chars) + 1)
                if op < 0.33 and pos < len(chars):
                    del chars[pos]
                elif op < 0.66:
                    chars.insert(pos, rng.choice(alphabet))
                elif pos < len(chars):
                    chars[pos] = rng.choice(alphabet)
            text = "".join(chars)
        out.append(text)
    return out


def main():
    # The tree walkers below recurse per nesting level; json itself still stops far below this.
    sys.setrecursionlimit(20000)
    binary = "trajforge"
    fuzz = 20000
    args = sys.argv[1:]
    if args and not args[0].startswith("--"):
        binary = args.pop(0)
    if args[:1] == ["--fuzz"]:
        fuzz = int(args[1])
    cases = EDGE_CASES + fuzz_cases(fuzz)
    corpus = "\n".join(cases).encode("utf-8", "surrogatepass") + b"\n"
    # A few byte-level cases: invalid UTF-8 can only be expressed as bytes.
    raw_cases = [b'"\xff"', b'"\xc3"', b'"\xc0\xaf"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'["ok", "\xe2\x82"]', b'\xef\xbb\xbf{}']
    corpus += b"\n".join(raw_cases) + b"\n"
    texts = [c.encode("utf-8", "surrogatepass") for c in cases] + raw_cases

    def run(*flags):
        result = subprocess.run([binary, "canon", "--mark", *flags, "-"], input=corpus, capture_output=True, check=False)
        if result.returncode != 0:
            sys.exit(f"trajforge canon failed ({result.returncode}): {result.stderr.decode(errors='replace')[:2000]}")
        out = result.stdout.split(b"\n")[:-1]
        if len(out) != len(texts):
            sys.exit(f"line count mismatch: {len(out)} outputs for {len(texts)} inputs")
        return out
    lines = run()
    ordered_lines = run("--keep-order")

    failures = []
    stats = {"accepted": 0, "rejected": 0, "extension": 0, "byte_identical": 0}
    for k, (raw, out, ordered) in enumerate(zip(texts, lines, ordered_lines)):
        try:
            text = raw.decode("utf-8")
            py = python_parse(text)
        except UnicodeDecodeError as e:
            py = ("error", f"invalid UTF-8: {e}")
        ours_ok = out.startswith(b"+")
        if py[0] == "extension":
            stats["extension"] += 1
            if ours_ok:
                failures.append((k, raw, "trajforge accepted a non-standard extension", out))
            continue
        if (py[0] == "ok") != ours_ok:
            failures.append((k, raw, f"python {py[0]} ({py[1] if py[0] == 'error' else ''}), trajforge {out[:120]!r}", out))
            continue
        if not ours_ok:
            stats["rejected"] += 1
            continue
        stats["accepted"] += 1
        ours = python_parse(ordered[1:].decode("utf-8"))
        if ours[0] != "ok" or not same(py[1], ours[1]):
            failures.append((k, raw, "different value or key order", ordered))
            continue
        if numbers_are_python_printed(text):
            for mine, sort_keys in ((ordered[1:], False), (out[1:], True)):
                expected = python_dump(text, sort_keys)
                if mine != expected:
                    failures.append((k, raw, f"bytes differ from json.dumps(sort_keys={sort_keys}): {expected[:200]!r}", mine))
                    break
            else:
                stats["byte_identical"] += 1

    print(f"json conformance: {len(texts)} cases ({len(EDGE_CASES) + len(raw_cases)} edge cases, {fuzz} fuzzed): "
          f"{stats['accepted']} accepted and equal ({stats['byte_identical']} byte-identical to json.dumps, sorted and unsorted), "
          f"{stats['rejected']} rejected by both, {stats['extension']} Python-only extensions rejected as documented, "
          f"{len(failures)} disagreements")
    for k, raw, why, out in failures[:20]:
        print(f"  case {k}: {raw[:160]!r}: {why}")
    sys.exit(1 if failures else 0)


def same(a, b):
    """Structural equality, object key order included (objects are ("obj", [(key, value), ...]))."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return [k for k, _ in a[1]] == [k for k, _ in b[1]] and all(same(x, y) for (_, x), (_, y) in zip(a[1], b[1]))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, Num) and isinstance(b, Num):
        return a == b
    return type(a) is type(b) and a == b


if __name__ == "__main__":
    main()
