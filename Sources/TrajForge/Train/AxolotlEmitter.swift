// axolotl: `<size>/axolotl/<stage>.yaml` (read by `axolotl train` / `python -m axolotl.cli.train`).

extension ConfigEmitter {
    func axolotlFiles() -> [EmittedFile] {
        let v = values
        let r = plan.request
        var e: [YAMLEntry] = []
        var sections: [String: String] = [:]

        sections["base_model"] = "model"
        e.append(entry("base_model", .string(v.model.value), v.model.origin))
        if stage == .sft {
            e.append(entry("chat_template", .string("jinja"), .framework("the xLAM-2 template from trajforge (the base's own template differs)")))
            e.append(entry("chat_template_jinja", .string(templatePath)))
        }
        if model.architecture.modelType == "llama" && stage == .sft {
            e.append(entry("special_tokens", .mapping([entry("pad_token", .string("<|end_of_text|>"))]),
                           .byDefault("axolotl's Llama 3 examples (the tokenizer has no pad token)")))
        }
        if r.method.value != .full {
            e.append(entry("adapter", .string(r.method.value == .lora ? "lora" : "qlora"), r.method.origin))
            if r.method.value == .qlora { e.append(entry("load_in_4bit", .bool(true), r.method.origin)) }
            e.append(entry("lora_r", .int(r.loraRank.value), r.loraRank.origin))
            e.append(entry("lora_alpha", .int(2 * r.loraRank.value), .byDefault("trajforge: 2 x rank")))
            e.append(entry("lora_target_linear", .bool(true), .byDefault("trajforge: every decoder linear layer, as planned")))
        }

        sections[stage == .sft ? "datasets" : "rl"] = "data"
        switch stage {
        case .sft: break
        case .dpo:
            e.append(entry("rl", .string("dpo")))
            e.append(entry("rl_beta", .double(v.beta.value), v.beta.origin))
        case .kto:
            e.append(entry("rl", .string("kto")))
            e.append(entry("rl_beta", .double(v.beta.value), v.beta.origin))
            e.append(entry("kto_desirable_weight", .double(1.0), .byDefault("TRL KTOConfig")))
            e.append(entry("kto_undesirable_weight", .double(1.0), .byDefault("TRL KTOConfig")))
        }
        e.append(entry("datasets", .sequence([axolotlDataset(trainPath)])))
        if let eval = options.eval { e.append(entry("test_datasets", .sequence([axolotlDataset(eval, split: "train")]))) }
        if stage != .sft {
            e.append(entry("skip_prepare_dataset", .bool(true),
                           .framework("TRL's trainer applies the chat template with tools; axolotl's own preference strategies keep role/content only")))
        }
        e.append(entry("dataset_prepared_path", .string(joinRelative(v.outputDir, "prepared"))))
        e.append(entry("sequence_len", .int(v.sequenceLength.value), v.sequenceLength.origin))
        e.append(entry("sample_packing", .bool(false), .byDefault("trajforge: no packing (the paper states none)")))

        // axolotl 0.19 maps the legacy `flash_attention: true` onto attn_implementation, warns that
        // it is deprecated and drops the key; the canonical key is what its schema keeps.
        sections["attn_implementation"] = "training"
        e.append(entry("attn_implementation", .string("flash_attention_2"), .paper))
        e.append(entry("bf16", .bool(true), .paper))
        e.append(entry("gradient_checkpointing", .bool(r.gradientCheckpointing.value), r.gradientCheckpointing.origin))
        e.append(entry("micro_batch_size", .int(v.microBatch.value), v.microBatch.origin))
        e.append(entry("gradient_accumulation_steps", .int(v.gradientAccumulation.value), v.gradientAccumulation.origin))
        e.append(entry("num_epochs", .double(v.epochs.value), v.epochs.origin))
        e.append(entry("optimizer", .string("adamw_torch"), .paper))
        e.append(entry("learning_rate", .double(v.learningRate.value), v.learningRate.origin))
        e.append(entry("lr_scheduler", .string(v.scheduler.value), v.scheduler.origin))
        e.append(entry("warmup_steps", .int(v.warmupSteps.value), v.warmupSteps.origin))
        e.append(entry("weight_decay", .double(v.weightDecay.value), v.weightDecay.origin))
        if r.method.value == .full || plan.zero.stage > 0 {
            e.append(entry("deepspeed", .string(deepSpeedPath), plan.zeroOrigin == .plan ? .plan : .paper))
        }
        if r.fusedCrossEntropy.value {
            e.append(entry("plugins", .strings(["axolotl.integrations.liger.LigerPlugin"]), r.fusedCrossEntropy.origin))
            e.append(entry("liger_fused_linear_cross_entropy", .bool(true), r.fusedCrossEntropy.origin))
        }
        e.append(entry("seed", .int(v.seed.value), v.seed.origin))

        sections["output_dir"] = "output"
        e.append(entry("output_dir", .string(v.outputDir)))
        e.append(entry("logging_steps", .int(10), .byDefault("LLaMA-Factory and TRL examples")))
        e.append(entry("saves_per_epoch", .int(1), .byDefault("trajforge: one checkpoint per epoch")))

        let path = joinRelative(sizeDir, "axolotl/\(stage.rawValue).yaml")
        return [EmittedFile(path: path, contents: YAMLWriter.document(header: headerLines("axolotl train \(path)"), entries: e, sections: sections),
                            summary: "axolotl \(stage.rawValue) config")]
    }

    func axolotlDataset(_ path: String, split: String = "train") -> YAMLNode {
        var d: [YAMLEntry] = [entry("path", .string(path))]
        if stage == .sft {
            // axolotl's preference dataset schemas (DPODataset, KTODataset) have no ds_type and
            // silently drop it; their loader infers json from the path, as for SFT without it.
            d.append(entry("ds_type", .string("json")))
        }
        d.append(entry("split", .string(split)))
        if stage == .sft {
            d += [
                entry("type", .string("chat_template")),
                entry("field_messages", .string("messages")),
                entry("field_tools", .string("tools")),
                entry("roles_to_train", .strings(["assistant"]), .paper),
                entry("train_on_eos", .string("turn"), .framework("each reply's end-of-turn token is trained")),
            ]
        }
        return .mapping(d)
    }
}
