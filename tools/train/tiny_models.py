#!/usr/bin/env python3
"""Tiny randomly initialised stand-ins for the catalog's base models, for offline validators.

For each size in recipes/models.json, writes OUT/<size>/ with a config.json of the same
model_type, vocabulary, tied-embedding choice and max positions as the real base but tiny
widths, random weights (unless --no-weights), and the family's real tokenizer files from
../shared/tokenizers. With --configs ROOT (a `trajforge config` output: ROOT/<size>/<template>.jinja) the
tokenizer carries the xLAM-2 chat template, as a trajforge-trained SFT output would.

Usage: tiny_models.py OUT [--catalog recipes/models.json] [--shared ../shared] [--sizes 1b,8b]
                          [--configs configs] [--no-weights] [--dtype bfloat16]
Needs transformers (and torch unless --no-weights). Works offline.
"""
import argparse
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

TOKENIZERS = {"qwen2": "qwen2.5", "llama": "llama-3.1"}


def tiny_config(arch):
    """A transformers config dict: the real vocab, tying and positions; tiny widths."""
    heads, kv = 4, 2
    cfg = {
        "model_type": arch["model_type"],
        "architectures": ["Qwen2ForCausalLM" if arch["model_type"] == "qwen2" else "LlamaForCausalLM"],
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": heads,
        "num_key_value_heads": kv,
        "head_dim": 16,
        "vocab_size": arch["vocab"],
        "tie_word_embeddings": arch["tied_embeddings"],
        "max_position_embeddings": arch["max_positions"],
        "rms_norm_eps": arch.get("rms_norm_eps", 1e-6),
        "rope_theta": arch.get("rope_theta", 10000.0),
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "use_cache": False,
    }
    if arch["model_type"] == "llama":
        cfg.update({"attention_bias": arch.get("attention_bias") == "all", "mlp_bias": False,
                    "bos_token_id": 128000, "eos_token_id": 128009})
    else:
        cfg.update({"bos_token_id": 151643, "eos_token_id": 151645, "use_sliding_window": False})
    return cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--catalog", default=os.path.join(ROOT, "recipes", "models.json"))
    ap.add_argument("--shared", default=os.environ.get("TRAJFORGE_SHARED", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--sizes", default="")
    ap.add_argument("--configs", help="trajforge config output: the chat template comes from ROOT/<size>/<template>.jinja")
    ap.add_argument("--no-weights", action="store_true")
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()

    catalog = json.load(open(args.catalog))
    wanted = set(filter(None, args.sizes.split(",")))
    for m in catalog["models"]:
        if wanted and m["size"] not in wanted:
            continue
        arch = m["architecture"]
        folder = os.path.join(args.out, m["size"])
        os.makedirs(folder, exist_ok=True)
        cfg = tiny_config(arch)
        if args.no_weights:
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(cfg, f, indent=2)
        else:
            import torch
            import transformers

            torch.manual_seed(0)
            config = transformers.AutoConfig.for_model(**cfg)
            model = transformers.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, args.dtype))
            model.save_pretrained(folder)
        tok = os.path.join(args.shared, "tokenizers", TOKENIZERS[arch["model_type"]])
        shutil.copy(os.path.join(tok, "tokenizer.json"), folder)
        tc = json.load(open(os.path.join(tok, "tokenizer_config.json")))
        if arch["model_type"] == "llama":
            tc["pad_token"] = "<|finetune_right_pad_id|>"
        if args.configs:
            path = os.path.join(args.configs, m["size"], m["template"] + ".jinja")
            tc["chat_template"] = open(path).read()
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            json.dump(tc, f, indent=2, ensure_ascii=False)
        print(f"{folder}: {cfg['model_type']} vocab {cfg['vocab_size']} tied {cfg['tie_word_embeddings']}"
              f"{'' if args.no_weights else ' (random weights)'}", file=sys.stderr)


if __name__ == "__main__":
    main()
