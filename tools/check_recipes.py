#!/usr/bin/env python3
"""Validate recipe YAML files against schemas/recipe.schema.json with `jsonschema` (PyYAML loads
them; dates stay text, as trajforge reads them).

usage: check_recipes.py RECIPE.yaml [...]
"""
import json
import os
import sys

import yaml
from jsonschema import Draft202012Validator


class TextDates(yaml.SafeLoader):
    pass


# YAML 1.1 reads 2025-04-07 as a date; trajforge's recipes take it as text.
TextDates.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    schema = json.load(open(os.path.join(here, "..", "schemas", "recipe.schema.json")))
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    failed = 0
    for path in sys.argv[1:]:
        data = yaml.load(open(path), Loader=TextDates)
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in validator.iter_errors(data)]
        print(f"{path}: {len(problems)} schema problems")
        for p in problems[:10]:
            print("  " + p)
        failed += len(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
