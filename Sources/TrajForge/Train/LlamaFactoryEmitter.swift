import ByteJSON

// LLaMA-Factory: `<size>/llamafactory/<stage>.yaml` (read by `llamafactory-cli train`) and
// `<size>/llamafactory/<stage>/dataset_info.json` (its dataset_dir).

extension ConfigEmitter {
    static let datasetNames: [TrainStage: String] = [.sft: "xlam2_sft", .dpo: "xlam2_dpo", .kto: "xlam2_kto"]

    var llamaFactoryDir: String { joinRelative(sizeDir, "llamafactory") }
    var llamaFactoryDatasetDir: String { joinRelative(llamaFactoryDir, stage.rawValue) }

    func llamaFactoryFiles() -> [EmittedFile] {
        let v = values
        let r = plan.request
        let name = ConfigEmitter.datasetNames[stage]!
        var e: [YAMLEntry] = []
        var sections: [String: String] = [:]

        sections["model_name_or_path"] = "model"
        e.append(entry("model_name_or_path", .string(v.model.value), v.model.origin))
        e.append(entry("template", .string(model.llamaFactoryTemplate),
                       .framework("LLaMA-Factory's own \(model.llamaFactoryTemplate) format (it has no xLAM-2 template; the paper's exact template is unpublished)")))
        e.append(entry("flash_attn", .string("fa2"), .paper))
        if r.fusedCrossEntropy.value { e.append(entry("enable_liger_kernel", .bool(true), r.fusedCrossEntropy.origin)) }

        sections["stage"] = "method"
        e.append(entry("stage", .string(stage.rawValue)))
        e.append(entry("do_train", .bool(true)))
        e.append(entry("finetuning_type", .string(r.method.value == .full ? "full" : "lora"), r.method.origin))
        if r.method.value != .full {
            e.append(entry("lora_rank", .int(r.loraRank.value), r.loraRank.origin))
            e.append(entry("lora_target", .string("all"), .byDefault("trajforge: every decoder linear layer, as planned")))
            if r.method.value == .qlora { e.append(entry("quantization_bit", .int(4), r.method.origin)) }
        }
        if r.method.value == .full || plan.zero.stage > 0 {
            e.append(entry("deepspeed", .string(deepSpeedPath), plan.zeroOrigin == .plan ? .plan : .paper))
        }
        switch stage {
        case .sft: break
        case .dpo:
            e.append(entry("pref_beta", .double(v.beta.value), v.beta.origin))
            e.append(entry("pref_loss", .string("sigmoid"), .byDefault("LLaMA-Factory (standard DPO)")))
        case .kto:
            e.append(entry("pref_beta", .double(v.beta.value), v.beta.origin))
            e.append(entry("kto_chosen_weight", .double(1.0), .byDefault("LLaMA-Factory")))
            e.append(entry("kto_rejected_weight", .double(1.0), .byDefault("LLaMA-Factory")))
        }

        sections["dataset"] = "dataset"
        e.append(entry("dataset", .string(name)))
        e.append(entry("dataset_dir", .string(llamaFactoryDatasetDir)))
        if options.eval != nil { e.append(entry("eval_dataset", .string(name + "_eval"))) }
        e.append(entry("cutoff_len", .int(v.sequenceLength.value), v.sequenceLength.origin))
        if stage == .sft {
            e.append(entry("mask_history", .bool(true),
                           .framework("paper: per-turn samples train only their last reply (LLaMA-Factory otherwise trains every gpt turn)")))
        }
        e.append(entry("preprocessing_num_workers", .int(16), .byDefault("LLaMA-Factory examples")))

        sections["output_dir"] = "output"
        e.append(entry("output_dir", .string(v.outputDir)))
        e.append(entry("logging_steps", .int(10), .byDefault("LLaMA-Factory examples")))
        e.append(entry("save_strategy", .string("epoch"), .byDefault("trajforge: one checkpoint per epoch")))
        e.append(entry("plot_loss", .bool(true)))
        e.append(entry("report_to", .string("none"), .byDefault("trajforge: no tracker assumed")))

        sections["per_device_train_batch_size"] = "train"
        e.append(entry("per_device_train_batch_size", .int(v.microBatch.value), v.microBatch.origin))
        e.append(entry("gradient_accumulation_steps", .int(v.gradientAccumulation.value), v.gradientAccumulation.origin))
        e.append(entry("learning_rate", .double(v.learningRate.value), v.learningRate.origin))
        e.append(entry("num_train_epochs", .double(v.epochs.value), v.epochs.origin))
        e.append(entry("lr_scheduler_type", .string(v.scheduler.value), v.scheduler.origin))
        e.append(entry("warmup_steps", .int(v.warmupSteps.value), v.warmupSteps.origin))
        e.append(entry("weight_decay", .double(v.weightDecay.value), v.weightDecay.origin))
        e.append(entry("optim", .string("adamw_torch"), .paper))
        e.append(entry("bf16", .bool(true), .paper))
        if !r.gradientCheckpointing.value { e.append(entry("disable_gradient_checkpointing", .bool(true), r.gradientCheckpointing.origin)) }
        e.append(entry("ddp_timeout", .int(180_000_000), .byDefault("LLaMA-Factory examples")))
        e.append(entry("seed", .int(v.seed.value), v.seed.origin))
        if options.eval != nil {
            sections["per_device_eval_batch_size"] = "eval"
            e.append(entry("per_device_eval_batch_size", .int(v.microBatch.value), .plan))
            e.append(entry("eval_strategy", .string("epoch"), .byDefault("trajforge: evaluate once per epoch")))
        }

        let yamlPath = joinRelative(llamaFactoryDir, "\(stage.rawValue).yaml")
        let yaml = YAMLWriter.document(header: headerLines("llamafactory-cli train \(yamlPath)"), entries: e, sections: sections)

        // dataset_info.json: file names relative to dataset_dir.
        var info = JSONObject()
        info["_comment"] = .array(headerLines("dataset_info.json for \(yamlPath) (JSON has no comments; LLaMA-Factory reads only the datasets a config names)").map(JSON.string))
        info[name] = datasetInfoEntry(file: relativePath(from: llamaFactoryDatasetDir, to: trainPath))
        if let eval = options.eval { info[name + "_eval"] = datasetInfoEntry(file: relativePath(from: llamaFactoryDatasetDir, to: eval)) }
        return [
            EmittedFile(path: yamlPath, contents: yaml, summary: "LLaMA-Factory \(stage.rawValue) config"),
            EmittedFile(path: joinRelative(llamaFactoryDatasetDir, "dataset_info.json"), contents: JSON.object(info).serialized(.pretty) + "\n",
                        summary: "LLaMA-Factory dataset_info.json (\(name) -> \(trainPath))"),
        ]
    }

    func datasetInfoEntry(file: String) -> JSON {
        switch stage {
        case .sft: return DatasetInfo.entry(fileName: file, format: .sharegpt)
        case .dpo: return DatasetInfo.entry(fileName: file, format: .sharegpt, ranking: true)
        case .kto:
            guard case .object(var o) = DatasetInfo.entry(fileName: file, format: .sharegpt) else { return .null }
            if case .object(var columns)? = o["columns"] {
                columns["kto_tag"] = "kto_tag"
                o["columns"] = .object(columns)
            }
            return .object(o)
        }
    }
}
