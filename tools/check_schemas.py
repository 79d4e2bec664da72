#!/usr/bin/env python3
"""Validate JSONL files (or JSON files) against a trajforge JSON Schema with the `jsonschema` library.

usage: check_schemas.py SCHEMA.json FILE [FILE ...]
Prints one line per file (records checked, problems) and the first problems; exits 1 on any.
"""
import json
import sys

from jsonschema import Draft202012Validator


def records(path):
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n" not in stripped.strip():
        yield 1, json.loads(stripped)
        return
    if path.endswith(".json") and stripped.startswith("["):
        yield 1, json.loads(text)
        return
    if path.endswith(".json") and not path.endswith(".jsonl"):
        try:
            yield 1, json.loads(text)
            return
        except json.JSONDecodeError:
            pass  # JSON Lines named .json (LLaMA-Factory reads both)
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            yield n, json.loads(line)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    schema = json.load(open(sys.argv[1]))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    failed = 0
    for path in sys.argv[2:]:
        count = 0
        problems = []
        for line, record in records(path):
            count += 1
            for error in validator.iter_errors(record):
                problems.append(f"{path}:{line}: {'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message[:200]}")
        print(f"{path}: {count} records, {len(problems)} schema problems ({sys.argv[1]})")
        for p in problems[:10]:
            print("  " + p)
        failed += len(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
