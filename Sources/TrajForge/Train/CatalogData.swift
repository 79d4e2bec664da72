// Generated from recipes/models.json by tools/train/embed_catalog.sh: edit the JSON, then rerun it.
// TrainCatalogTests checks that this text equals the file.
enum CatalogData {
    static let modelsJSON = #"""
{
  "catalog_version": 1,
  "about": "trajforge's model and GPU catalog for `trajforge plan` and `trajforge config`. Architecture numbers are the base models' Hugging Face config.json values; `parameters` is the count they imply (trajforge recomputes it and refuses an entry whose stated count disagrees). Embedded in the binary (Sources/TrajForge/Train/CatalogData.swift, kept equal by a test); --catalog FILE reads another file of this shape.",
  "models": [
    {
      "size": "1b",
      "name": "xLAM-2-1b-fc-r",
      "released": "Salesforce/xLAM-2-1b-fc-r",
      "base": "Qwen/Qwen2.5-1.5B-Instruct",
      "base_evidence": "inferred: the model card groups 32b/3b/1b as Qwen-2.5-based, Qwen2.5 has no 1B, and a benchmark lists it at 1.53B parameters",
      "alternatives": [],
      "template": "xlam2-qwen",
      "llamafactory_template": "qwen",
      "architecture": {
        "model_type": "qwen2", "layers": 28, "hidden": 1536, "intermediate": 8960, "heads": 12, "kv_heads": 2,
        "vocab": 151936, "tied_embeddings": true, "max_positions": 32768, "attention_bias": "qkv", "mlp_bias": false,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-06
      },
      "parameters": 1543714304
    },
    {
      "size": "3b",
      "name": "xLAM-2-3b-fc-r",
      "released": "Salesforce/xLAM-2-3b-fc-r",
      "base": "Qwen/Qwen2.5-3B-Instruct",
      "base_evidence": "inferred: Qwen-2.5-based per the model card; a config dump of the release has the Qwen2.5-3B shape (36 layers, hidden 2048, 16/2 heads, tied embeddings)",
      "alternatives": [],
      "template": "xlam2-qwen",
      "llamafactory_template": "qwen",
      "architecture": {
        "model_type": "qwen2", "layers": 36, "hidden": 2048, "intermediate": 11008, "heads": 16, "kv_heads": 2,
        "vocab": 151936, "tied_embeddings": true, "max_positions": 32768, "attention_bias": "qkv", "mlp_bias": false,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-06
      },
      "parameters": 3085938688
    },
    {
      "size": "8b",
      "name": "Llama-xLAM-2-8b-fc-r",
      "released": "Salesforce/Llama-xLAM-2-8b-fc-r",
      "base": "meta-llama/Llama-3.1-8B-Instruct",
      "base_evidence": "inferred: the paper trains Llama 3.1/3.2 Instruct models and an 8B exists only in Llama 3.1",
      "alternatives": [],
      "template": "xlam2-llama",
      "llamafactory_template": "llama3",
      "architecture": {
        "model_type": "llama", "layers": 32, "hidden": 4096, "intermediate": 14336, "heads": 32, "kv_heads": 8,
        "vocab": 128256, "tied_embeddings": false, "max_positions": 131072, "attention_bias": "none", "mlp_bias": false,
        "rope_theta": 500000.0, "rms_norm_eps": 1e-05
      },
      "parameters": 8030261248
    },
    {
      "size": "32b",
      "name": "xLAM-2-32b-fc-r",
      "released": "Salesforce/xLAM-2-32b-fc-r",
      "base": "Qwen/Qwen2.5-32B-Instruct",
      "base_evidence": "inferred: the paper's 32B baseline is Qwen 2.5 32B Instruct and the card groups 32b as Qwen-2.5-based",
      "alternatives": [],
      "template": "xlam2-qwen",
      "llamafactory_template": "qwen",
      "architecture": {
        "model_type": "qwen2", "layers": 64, "hidden": 5120, "intermediate": 27648, "heads": 40, "kv_heads": 8,
        "vocab": 152064, "tied_embeddings": false, "max_positions": 32768, "attention_bias": "qkv", "mlp_bias": false,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-06
      },
      "parameters": 32763876352
    },
    {
      "size": "70b",
      "name": "Llama-xLAM-2-70b-fc-r",
      "released": "Salesforce/Llama-xLAM-2-70b-fc-r",
      "base": "meta-llama/Llama-3.1-70B-Instruct",
      "base_evidence": "stated: the model card calls Llama 3.1 70B Instruct the base; Llama 3.3 70B has the same architecture and tokenizer",
      "alternatives": ["meta-llama/Llama-3.3-70B-Instruct"],
      "template": "xlam2-llama",
      "llamafactory_template": "llama3",
      "architecture": {
        "model_type": "llama", "layers": 80, "hidden": 8192, "intermediate": 28672, "heads": 64, "kv_heads": 8,
        "vocab": 128256, "tied_embeddings": false, "max_positions": 131072, "attention_bias": "none", "mlp_bias": false,
        "rope_theta": 500000.0, "rms_norm_eps": 1e-05
      },
      "parameters": 70553706496
    }
  ],
  "gpus": [
    {
      "name": "H100-80GB",
      "aliases": ["h100", "h100-80gb", "h100-sxm"],
      "memory_mib": 81559,
      "bf16_dense_tflops": 989.5,
      "source": "memory: nvidia-smi total of an H100 SXM5 80GB HBM3; compute: NVIDIA H100 datasheet, BF16 Tensor Core 1,979 TFLOPS with sparsity, halved for dense"
    },
    {
      "name": "H200-141GB",
      "aliases": ["h200", "h200-141gb"],
      "memory_mib": 143771,
      "bf16_dense_tflops": 989.5,
      "source": "memory: nvidia-smi total of an H200 SXM 141GB HBM3e; compute: NVIDIA H200 datasheet, BF16 Tensor Core 1,979 TFLOPS with sparsity, halved for dense"
    },
    {
      "name": "A100-80GB",
      "aliases": ["a100", "a100-80gb"],
      "memory_mib": 81920,
      "bf16_dense_tflops": 312.0,
      "source": "memory: nvidia-smi total of an A100 SXM4 80GB; compute: NVIDIA A100 datasheet, BF16 Tensor Core 312 TFLOPS dense"
    },
    {
      "name": "A100-40GB",
      "aliases": ["a100-40gb"],
      "memory_mib": 40960,
      "bf16_dense_tflops": 312.0,
      "source": "memory: nvidia-smi total of an A100 SXM4 40GB; compute: NVIDIA A100 datasheet, BF16 Tensor Core 312 TFLOPS dense"
    }
  ]
}
"""#
}
