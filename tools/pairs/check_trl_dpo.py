#!/usr/bin/env python3
"""Feed trajforge's TRL DPO pairs to TRL's own DPOTrainer and check what it makes of them.

usage: check_trl_dpo.py PAIRS.trl-dpo.jsonl TOKENIZER_DIR [--rendered PAIRS.rendered.jsonl]
                        [--train-steps N] [--work DIR]

  PAIRS.trl-dpo.jsonl  `trajforge pairs --to trl-dpo` output (conversational prompt/chosen/rejected
                       message lists plus a tools column)
  TOKENIZER_DIR        a folder with tokenizer.json and tokenizer_config.json (its chat template is
                       the one TRL applies)
  --rendered FILE      `trajforge pairs --to rendered --template TOKENIZER_DIR --tokenizer
                       TOKENIZER_DIR` output for the same pairs: TRL's prompt/chosen/rejected ids
                       must equal trajforge's, pair by pair
  --train-steps N      then run N real DPO optimisation steps (default 0: tokenization only)

The model is a tiny random one built from a config (Qwen2 or Llama, after the tokenizer), saved
beside a copy of the tokenizer in a temporary folder: nothing is downloaded. The script fails if
`datasets` cannot load the file, if TRL logs its "tokenized prompt is not a prefix" warning, if
any pair's prompt ids are not a prefix of prompt+chosen and prompt+rejected ids, if a completion
ends with a doubled end-of-sequence token, or (with --rendered) if any id differs.

Needs torch (CPU build is enough), trl, transformers and datasets: tools/requirements-ml.txt.
"""
import argparse
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import warnings


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def tiny_model(tokenizer_dir, work):
    """A one-layer random causal LM with the tokenizer's vocabulary, saved with the tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    folder = os.path.join(work, "tiny-model")
    os.makedirs(folder, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tokenizer_dir, name), folder)
    common = dict(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32768,
                  eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    qwen = "qwen" in type(tok).__name__.lower() or "<|im_end|>" in str(tok.eos_token)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**common)) if qwen else LlamaForCausalLM(LlamaConfig(**common))
    model.save_pretrained(folder)
    return folder, tok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs")
    parser.add_argument("tokenizer_dir")
    parser.add_argument("--rendered")
    parser.add_argument("--train-steps", type=int, default=0)
    parser.add_argument("--work")
    args = parser.parse_args()

    collected = Collect()
    for name in ("trl", "transformers", "datasets"):
        logging.getLogger(name).addHandler(collected)
    warnings.simplefilter("always")

    from datasets import load_dataset
    from trl import DPOConfig, DPOTrainer

    work = args.work or tempfile.mkdtemp(prefix="trl-dpo-check-")
    model_dir, tok = tiny_model(args.tokenizer_dir, work)
    dataset = load_dataset("json", data_files=args.pairs, split="train")
    print(f"{args.pairs}: datasets loaded {len(dataset)} pairs; columns {', '.join(dataset.column_names)}")

    config = DPOConfig(output_dir=os.path.join(work, "run"), use_cpu=True, report_to=[], max_length=None,
                       per_device_train_batch_size=1, gradient_accumulation_steps=1,
                       max_steps=max(args.train_steps, 1), logging_steps=1, save_strategy="no",
                       dataset_num_proc=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = DPOTrainer(model=model_dir, args=config, train_dataset=dataset, processing_class=tok)
    problems = []
    prefix_warnings = [m for m in collected.messages + [str(w.message) for w in caught] if "not a prefix" in m]
    if prefix_warnings:
        problems.append("TRL warned: " + prefix_warnings[0][:300])

    # What TRL will train on, recomputed from its own chat-template call, pair by pair.
    tokenized = trainer.train_dataset
    eos = tok.eos_token_id
    rendered = {}
    if args.rendered:
        with open(args.rendered) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    rendered[r["id"]] = r
    compared = 0
    for k, (row, raw) in enumerate(zip(tokenized, dataset)):
        tools = raw["tools"]
        whole = {}
        for side in ("chosen", "rejected"):
            ids = tok.apply_chat_template(raw["prompt"] + raw[side], tools=tools, tokenize=True, return_dict=True)["input_ids"]
            whole[side] = ids
            if ids[: len(row["prompt_ids"])] != row["prompt_ids"] or row["prompt_ids"] + row[side + "_ids"] != ids:
                problems.append(f"{raw['id']}: prompt ids are not a prefix of prompt+{side} ids")
            completion = row[side + "_ids"]
            if len(completion) >= 2 and completion[-1] == eos and completion[-2] == eos:
                problems.append(f"{raw['id']}: {side} ends with a doubled end-of-sequence token")
        prompt = tok.apply_chat_template(raw["prompt"], tools=tools, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"]
        if prompt != row["prompt_ids"]:
            problems.append(f"{raw['id']}: TRL cut the prompt at {len(row['prompt_ids'])} of {len(prompt)} tokens")
        if args.rendered:
            ours = rendered.get(raw["id"])
            if ours is None:
                problems.append(f"{raw['id']}: not in {args.rendered}")
                continue
            for field, theirs in (("prompt_input_ids", row["prompt_ids"]), ("chosen_input_ids", row["chosen_ids"]),
                                  ("rejected_input_ids", row["rejected_ids"])):
                if ours.get(field) != theirs:
                    mine = ours.get(field) or []
                    at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
                    problems.append(f"{raw['id']}: {field} differs from TRL's at token {at} "
                                    f"(ours {len(mine)} tokens, TRL {len(theirs)})")
            compared += 1
    print(f"TRL tokenized {len(tokenized)} pairs: prompt ids are a prefix of prompt+chosen and prompt+rejected "
          f"in {len(tokenized) - len([p for p in problems if 'prefix' in p])}; no prefix warning: {not prefix_warnings}")
    if args.rendered:
        print(f"{args.rendered}: {compared} pairs compared with TRL's ids")

    if args.train_steps > 0 and not problems:
        result = trainer.train()
        loss = result.training_loss
        print(f"DPO trained {args.train_steps} step(s): loss {loss:.4f}")
        if not math.isfinite(loss):
            problems.append(f"training loss is {loss}")

    for p in problems[:20]:
        print("  " + p)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print(f"FAILED: {len(problems)} problems")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
