// TRL: `<size>/trl/<stage>.yaml` (`trl sft|dpo|kto --config`) and `<size>/trl/<stage>.accelerate.yaml`
// (`--accelerate_config`: DeepSpeed through accelerate).

extension ConfigEmitter {
    var trlDir: String { joinRelative(sizeDir, "trl") }
    var acceleratePath: String { joinRelative(trlDir, "\(stage.rawValue).accelerate.yaml") }

    func trlFiles() -> [EmittedFile] {
        let v = values
        let r = plan.request
        var e: [YAMLEntry] = []
        var sections: [String: String] = [:]

        sections["model_name_or_path"] = "model (ModelConfig)"
        e.append(entry("model_name_or_path", .string(v.model.value), v.model.origin))
        e.append(entry("dtype", .string("bfloat16"), .paper))
        e.append(entry("attn_implementation", .string("flash_attention_2"), .paper))
        if r.method.value != .full {
            e.append(entry("use_peft", .bool(true), r.method.origin))
            e.append(entry("lora_r", .int(r.loraRank.value), r.loraRank.origin))
            e.append(entry("lora_alpha", .int(2 * r.loraRank.value), .byDefault("trajforge: 2 x rank")))
            e.append(entry("lora_target_modules", .strings(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
                           .byDefault("trajforge: every decoder linear layer, as planned")))
            if r.method.value == .qlora { e.append(entry("load_in_4bit", .bool(true), r.method.origin)) }
        }

        sections["datasets"] = "data (DatasetMixtureConfig)"
        e.append(entry("datasets", .sequence([.mapping([
            entry("path", .string("json")),
            entry("data_files", .string(trainPath)),
            entry("split", .string("train")),
        ])])))

        sections["max_length"] = "training (\(stage == .sft ? "SFTConfig" : stage == .dpo ? "DPOConfig" : "KTOConfig"))"
        e.append(entry("max_length", .int(v.sequenceLength.value), v.sequenceLength.origin))
        switch stage {
        case .sft:
            if BuiltinTemplate.named(model.template) != nil || model.template.hasSuffix(".jinja") {
                e.append(entry("chat_template_path", .string(templatePath), .framework("the xLAM-2 template (the base's own template differs)")))
            }
            e.append(entry("completion_only_loss", .bool(true), .paper))
            e.append(entry("packing", .bool(false), .byDefault("trajforge: no packing (the paper states none)")))
        case .dpo:
            e.append(entry("beta", .double(v.beta.value), v.beta.origin))
        case .kto:
            e.append(entry("beta", .double(v.beta.value), v.beta.origin))
            e.append(entry("desirable_weight", .double(1.0), .byDefault("TRL KTOConfig")))
            e.append(entry("undesirable_weight", .double(1.0), .byDefault("TRL KTOConfig")))
        }
        e.append(entry("bf16", .bool(true), .paper))
        e.append(entry("gradient_checkpointing", .bool(r.gradientCheckpointing.value), r.gradientCheckpointing.origin))
        if r.fusedCrossEntropy.value { e.append(entry("use_liger_kernel", .bool(true), r.fusedCrossEntropy.origin)) }
        e.append(entry("per_device_train_batch_size", .int(v.microBatch.value), v.microBatch.origin))
        e.append(entry("gradient_accumulation_steps", .int(v.gradientAccumulation.value), v.gradientAccumulation.origin))
        e.append(entry("learning_rate", .double(v.learningRate.value), v.learningRate.origin))
        e.append(entry("lr_scheduler_type", .string(v.scheduler.value), v.scheduler.origin))
        e.append(entry("warmup_steps", .int(v.warmupSteps.value), v.warmupSteps.origin))
        e.append(entry("weight_decay", .double(v.weightDecay.value), v.weightDecay.origin))
        e.append(entry("num_train_epochs", .double(v.epochs.value), v.epochs.origin))
        e.append(entry("optim", .string("adamw_torch"), .paper))
        e.append(entry("seed", .int(v.seed.value), v.seed.origin))

        sections["output_dir"] = "output"
        e.append(entry("output_dir", .string(v.outputDir)))
        e.append(entry("logging_steps", .int(10), .byDefault("TRL")))
        e.append(entry("save_strategy", .string("epoch"), .byDefault("trajforge: one checkpoint per epoch")))
        e.append(entry("report_to", .string("none"), .byDefault("trajforge: no tracker assumed")))

        let path = joinRelative(trlDir, "\(stage.rawValue).yaml")
        let yaml = YAMLWriter.document(header: headerLines("trl \(stage.rawValue) --config \(path) --accelerate_config \(acceleratePath)"),
                                       entries: e, sections: sections)
        return [EmittedFile(path: path, contents: yaml, summary: "TRL \(stage.rawValue) config"), accelerateFile()]
    }

    /// accelerate's config: DeepSpeed with the plan's JSON, machines and processes from the plan.
    func accelerateFile() -> EmittedFile {
        let g = plan.request.gpusPerNode.value
        var e: [YAMLEntry] = [entry("compute_environment", .string("LOCAL_MACHINE")), entry("debug", .bool(false))]
        if plan.request.method.value == .full || plan.zero.stage > 0 {
            e.append(entry("distributed_type", .string("DEEPSPEED"), plan.zeroOrigin == .plan ? .plan : .paper))
            e.append(entry("deepspeed_config", .mapping([
                entry("deepspeed_config_file", .string(deepSpeedPath)),
                entry("deepspeed_multinode_launcher", .string("standard"), .byDefault("TRL accelerate_configs/zero3.yaml")),
                entry("zero3_init_flag", .bool(plan.zero.stage == 3), .framework("ZeRO-3 builds the model sharded")),
            ])))
        } else {
            e.append(entry("distributed_type", .string(plan.gpus > 1 ? "MULTI_GPU" : "NO"), .plan))
            e.append(entry("mixed_precision", .string("bf16"), .paper))
        }
        e += [
            entry("machine_rank", .int(0), .framework("the launch script passes --machine_rank per node")),
            entry("main_training_function", .string("main")),
            entry("num_machines", .int(plan.nodes), .plan),
            entry("num_processes", .int(plan.gpus), .plan),
            entry("rdzv_backend", .string("static"), .byDefault("TRL accelerate_configs/zero3.yaml")),
            entry("same_network", .bool(true), .byDefault("TRL accelerate_configs/zero3.yaml")),
            entry("tpu_env", .sequence([])),
            entry("tpu_use_cluster", .bool(false)),
            entry("tpu_use_sudo", .bool(false)),
            entry("use_cpu", .bool(false)),
        ]
        let header = headerLines("accelerate config for \(joinRelative(trlDir, "\(stage.rawValue).yaml")) (\(plan.nodes) x \(g) GPUs)", data: false)
        return EmittedFile(path: acceleratePath, contents: YAMLWriter.document(header: header, entries: e),
                           summary: "accelerate config (\(plan.nodes) node(s), \(plan.gpus) processes)")
    }
}
