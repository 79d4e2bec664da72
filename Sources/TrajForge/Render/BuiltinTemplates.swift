// Chat templates written for trajforge, so rendering works without a model folder. Each one is
// our own text, and a test renders it beside the upstream template it stands for (in ../shared,
// not copied here) on every real conversation, full and per-turn: the outputs are identical.

/// A built-in chat format: template source, special tokens, and how it wants tool schemas.
public struct BuiltinTemplate: Sendable {
    public let name: String
    public let aliases: [String]
    public let summary: String
    /// The upstream template this one reproduces (a file name in ../shared/templates).
    public let upstream: String
    public let source: String
    public let specialTokens: [String: String]
    public let toolForm: ToolForm

    public static let all: [BuiltinTemplate] = [xlam2Llama, xlam2Qwen, llama31, qwen25]

    public static func named(_ name: String) -> BuiltinTemplate? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }
}

/// How a template wants `tools`: OpenAI's wrapped `{"type": "function", "function": {…}}`, or the
/// raw function schema (the xLAM-2 model card and BFCL pass raw schemas).
public enum ToolForm: String, Sendable, CaseIterable {
    case wrapped, raw
}

extension BuiltinTemplate {
    static let llamaTokens = ["bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "pad_token": "<|finetune_right_pad_id|>"]
    static let qwenTokens = ["eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"]

    /// The xLAM-2 system text offered when the conversation has no system message and tools are given.
    static let xlamToolInstruction = """
        You have access to a set of tools. When using tools, make calls in a single JSON array: \("")

        [{"name": "tool_call_name", "arguments": {"arg1": "value1", "arg2": "value2"}}, ... (additional parallel tool calls as needed)]

        If no tool is suitable, state that explicitly. If the user's input lacks required parameters, ask for clarification. Do not interpret or respond until tool results are returned. Once they are available, process them or make additional calls if needed. For tasks that don't require tools, such as casual conversation or general advice, respond directly in plain text. The available tools are:
        """

    public static let xlam2Llama = BuiltinTemplate(
        name: "xlam2-llama", aliases: ["xlam-2-llama", "xlam2-8b", "xlam2-70b"],
        summary: "xLAM-2-fc-r 8b/70b (Llama 3.1 base): tool calls as a JSON list, tools as raw schemas",
        upstream: "xLAM-2-fc-r-llama.vllm.jinja",
        source: """
            {#- trajforge built-in: xLAM-2-fc-r, Llama variant. Tools are raw function schemas. -#}
            {%- set tool_list = custom_tools if custom_tools is defined else (tools if tools is defined else none) -%}
            {%- set tool_instruction -%}\(xlamToolInstruction){%- endset -%}
            {%- set turns = messages -%}
            {{- bos_token -}}
            {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" -}}
            {%- if turns[0]['role'] == 'system' -%}
                {{- (turns[0]['content'] | trim) ~ "\\n" -}}
                {%- set turns = turns[1:] -%}
            {%- else -%}
                {{- "You are a helpful assistant. You are developed by Salesforce xLAM team.\\n" -}}
                {%- if tool_list is not none -%}{{- tool_instruction ~ "\\n\\n" -}}{%- endif -%}
            {%- endif -%}
            {%- if tool_list is not none -%}
                {%- for schema in tool_list -%}{{- schema | tojson(indent=4) ~ "\\n\\n" -}}{%- endfor -%}
            {%- endif -%}
            {{- "<|eot_id|>" -}}
            {%- for turn in turns -%}
                {%- if 'tool_calls' in turn -%}
                    {{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" -}}
                    {%- if turn['tool_calls'] -%}
                        {{- "[" -}}
                        {%- for call in turn.tool_calls -%}
                            {{- '{"name": "' + call.function.name + '", "arguments": ' + (call.function.arguments | tojson) + '}' -}}
                            {%- if not loop.last -%}{{- ", " -}}{%- endif -%}
                        {%- endfor -%}
                        {{- "]<|eot_id|>" -}}
                    {%- elif turn['content'] -%}
                        {{- (turn['content'] | trim) ~ "<|eot_id|>" -}}
                    {%- else -%}
                        {{- "[]\\n<|eot_id|>" -}}
                    {%- endif -%}
                {%- elif turn.role in ['tool', 'ipython'] -%}
                    {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" -}}
                    {%- set result = turn["content"] -%}
                    {%- if result is mapping or (result is iterable and result is not string) -%}
                        {{- result | tojson -}}
                    {%- else -%}
                        {{- result -}}
                    {%- endif -%}
                    {{- "<|eot_id|>" -}}
                {%- else -%}
                    {{- '<|start_header_id|>' + turn['role'] + '<|end_header_id|>\\n\\n' + (turn['content'] | trim) + '<|eot_id|>' -}}
                {%- endif -%}
            {%- endfor -%}
            {%- if add_generation_prompt -%}{{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" -}}{%- endif -%}
            """,
        specialTokens: llamaTokens, toolForm: .raw)

    public static let xlam2Qwen = BuiltinTemplate(
        name: "xlam2-qwen", aliases: ["xlam-2-qwen", "xlam2-1b", "xlam2-3b", "xlam2-32b"],
        summary: "xLAM-2-fc-r 1b/3b/32b (Qwen2.5 base): tool calls as a JSON list, tools as raw schemas",
        upstream: "xLAM-2-fc-r-qwen.hf-reconstructed.jinja",
        source: """
            {#- trajforge built-in: xLAM-2-fc-r, Qwen variant (the Hugging Face tokenizer_config form:
                no newline after <|im_end|>). Tools are raw function schemas. -#}
            {%- set has_tools = tools is defined and tools is not none -%}
            {%- set tool_instruction -%}\(xlamToolInstruction){%- endset -%}
            {%- set turns = messages -%}
            {{- "<|im_start|>system\\n" -}}
            {%- if turns[0]['role'] == 'system' -%}
                {{- (turns[0]['content'] | trim) ~ "\\n" -}}
                {%- set turns = turns[1:] -%}
            {%- else -%}
                {{- "You are a helpful assistant that can use tools. You are developed by Salesforce xLAM team.\\n" -}}
                {%- if has_tools -%}{{- tool_instruction ~ "\\n\\n" -}}{%- endif -%}
            {%- endif -%}
            {%- if has_tools -%}
                {%- for schema in tools -%}{{- schema | tojson(indent=4) ~ "\\n\\n" -}}{%- endfor -%}
            {%- endif -%}
            {{- "<|im_end|>" -}}
            {%- for turn in turns -%}
                {%- if turn['role'] == 'tool' -%}
                    {%- set result = turn.content.content if (turn.content is defined and turn.content.content is defined) else turn.content -%}
                    {{- "<|im_start|>tool\\n" -}}
                    {%- if result is mapping or (result is iterable and result is not string) -%}
                        {{- result | tojson -}}
                    {%- else -%}
                        {{- result -}}
                    {%- endif -%}
                    {{- "<|im_end|>" -}}
                {%- elif 'tool_calls' in turn -%}
                    {{- "<|im_start|>assistant\\n" -}}
                    {%- if turn['tool_calls'] -%}
                        {{- "[" -}}
                        {%- for call in turn.tool_calls -%}
                            {{- call.function | tojson -}}{%- if not loop.last -%}{{- ", " -}}{%- endif -%}
                        {%- endfor -%}
                        {{- "]" -}}
                    {%- elif turn['content'] -%}
                        {{- turn['content'] | trim -}}
                    {%- else -%}
                        {{- "[]\\n" -}}
                    {%- endif -%}
                    {{- "<|im_end|>" -}}
                {%- else -%}
                    {{- "<|im_start|>" + turn['role'] + "\\n" + (turn['content'] | trim) + "<|im_end|>" -}}
                {%- endif -%}
            {%- endfor -%}
            {%- if add_generation_prompt -%}{{- "<|im_start|>assistant\\n" -}}{%- endif -%}
            """,
        specialTokens: qwenTokens, toolForm: .raw)

    public static let llama31 = BuiltinTemplate(
        name: "llama3.1", aliases: ["llama-3.1", "llama3.3", "llama-3.3", "llama3"],
        summary: "Llama 3.1 / 3.3 Instruct: JSON tool calls with \"parameters\", tools in the first user turn by default",
        upstream: "Llama-3.1-8B-Instruct.jinja",
        source: """
            {#- trajforge built-in: Llama 3.1 / 3.3 Instruct (one tool call per turn; JSON tool calls). -#}
            {%- set tool_list = custom_tools if custom_tools is defined else (tools if tools is defined else none) -%}
            {%- set in_user_turn = true if tools_in_user_message is not defined else tools_in_user_message -%}
            {%- set today = date_string if date_string is defined else "26 Jul 2024" -%}
            {%- set turns = messages -%}
            {%- set system_text = "" -%}
            {%- if turns[0]['role'] == 'system' -%}
                {%- set system_text = turns[0]['content'] | trim -%}
                {%- set turns = turns[1:] -%}
            {%- endif -%}
            {%- set call_format = 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.Do not use variables.\\n\\n' -%}
            {{- bos_token ~ "<|start_header_id|>system<|end_header_id|>\\n\\n" -}}
            {%- if builtin_tools is defined or tool_list is not none -%}{{- "Environment: ipython\\n" -}}{%- endif -%}
            {%- if builtin_tools is defined -%}
                {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\\n\\n" -}}
            {%- endif -%}
            {{- "Cutting Knowledge Date: December 2023\\nToday Date: " + today + "\\n\\n" -}}
            {%- if tool_list is not none and not in_user_turn -%}
                {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." ~ call_format -}}
                {%- for schema in tool_list -%}{{- schema | tojson(indent=4) ~ "\\n\\n" -}}{%- endfor -%}
            {%- endif -%}
            {{- system_text ~ "<|eot_id|>" -}}
            {%- if in_user_turn and tool_list is not none -%}
                {%- if turns | length == 0 -%}
                    {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") -}}
                {%- endif -%}
                {%- set first_user = turns[0]['content'] | trim -%}
                {%- set turns = turns[1:] -%}
                {{- "<|start_header_id|>user<|end_header_id|>\\n\\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\\n\\n" ~ call_format -}}
                {%- for schema in tool_list -%}{{- schema | tojson(indent=4) ~ "\\n\\n" -}}{%- endfor -%}
                {{- first_user + "<|eot_id|>" -}}
            {%- endif -%}
            {%- for turn in turns -%}
                {%- if 'tool_calls' in turn -%}
                    {%- if not turn.tool_calls | length == 1 -%}
                        {{- raise_exception("This model only supports single tool-calls at once!") -}}
                    {%- endif -%}
                    {%- set call = turn.tool_calls[0].function -%}
                    {{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" -}}
                    {%- if builtin_tools is defined and call.name in builtin_tools -%}
                        {{- "<|python_tag|>" + call.name + ".call(" -}}
                        {%- for key, value in call.arguments | items -%}
                            {{- key + '="' + value + '"' -}}{%- if not loop.last -%}{{- ", " -}}{%- endif -%}
                        {%- endfor -%}
                        {{- ")" -}}
                    {%- else -%}
                        {{- '{"name": "' + call.name + '", "parameters": ' + (call.arguments | tojson) + "}" -}}
                    {%- endif -%}
                    {{- "<|eom_id|>" if builtin_tools is defined else "<|eot_id|>" -}}
                {%- elif turn.role in ['tool', 'ipython'] -%}
                    {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" -}}
                    {%- if turn.content is mapping or turn.content is iterable -%}
                        {{- turn.content | tojson -}}
                    {%- else -%}
                        {{- turn.content -}}
                    {%- endif -%}
                    {{- "<|eot_id|>" -}}
                {%- else -%}
                    {{- '<|start_header_id|>' + turn['role'] + '<|end_header_id|>\\n\\n' + (turn['content'] | trim) + '<|eot_id|>' -}}
                {%- endif -%}
            {%- endfor -%}
            {%- if add_generation_prompt -%}{{- "<|start_header_id|>assistant<|end_header_id|>\\n\\n" -}}{%- endif -%}
            """,
        specialTokens: llamaTokens, toolForm: .wrapped)

    public static let qwen25 = BuiltinTemplate(
        name: "qwen2.5", aliases: ["qwen-2.5", "qwen2"],
        summary: "Qwen2.5 Instruct: <tool_call> JSON blocks, tool results merged into one user turn",
        upstream: "Qwen2.5-7B-Instruct.jinja",
        source: """
            {#- trajforge built-in: Qwen2.5 Instruct. -#}
            {%- set default_system = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' -%}
            {%- set first_is_system = messages[0]['role'] == 'system' -%}
            {%- if tools -%}
                {{- '<|im_start|>system\\n' ~ (messages[0]['content'] if first_is_system else default_system) -}}
                {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" -}}
                {%- for schema in tools -%}{{- "\\n" ~ (schema | tojson) -}}{%- endfor -%}
                {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" -}}
            {%- else -%}
                {{- '<|im_start|>system\\n' + (messages[0]['content'] if first_is_system else default_system) + '<|im_end|>\\n' -}}
            {%- endif -%}
            {%- for turn in messages -%}
                {%- set previous = messages[loop.index0 - 1] if loop.index0 > 0 else none -%}
                {%- set following = messages[loop.index0 + 1] if not loop.last else none -%}
                {%- if turn.role == "user" or (turn.role == "system" and not loop.first) or (turn.role == "assistant" and not turn.tool_calls) -%}
                    {{- '<|im_start|>' + turn.role + '\\n' + turn.content + '<|im_end|>\\n' -}}
                {%- elif turn.role == "assistant" -%}
                    {{- '<|im_start|>assistant' -}}
                    {%- if turn.content -%}{{- '\\n' + turn.content -}}{%- endif -%}
                    {%- for call in turn.tool_calls -%}
                        {%- set fn = call.function if call.function is defined else call -%}
                        {{- '\\n<tool_call>\\n{"name": "' ~ fn.name ~ '", "arguments": ' ~ (fn.arguments | tojson) ~ '}\\n</tool_call>' -}}
                    {%- endfor -%}
                    {{- '<|im_end|>\\n' -}}
                {%- elif turn.role == "tool" -%}
                    {%- if previous is none or previous.role != "tool" -%}{{- '<|im_start|>user' -}}{%- endif -%}
                    {{- '\\n<tool_response>\\n' -}}{{- turn.content -}}{{- '\\n</tool_response>' -}}
                    {%- if following is none or following.role != "tool" -%}{{- '<|im_end|>\\n' -}}{%- endif -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}
            """,
        specialTokens: qwenTokens, toolForm: .wrapped)
}
