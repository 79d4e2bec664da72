#!/usr/bin/env python3
"""Write a deterministic chat-like JSONL corpus for the JSON benchmark.

Each line (~5 KB) looks like an OpenAI-messages rollout: nested meta objects, tags, 1-6 turns with
tool calls whose `arguments` are JSON strings inside JSON, mixed-script text (EN/DE/FR/RU/ZH/JA/AR,
emoji incl. ZWJ sequences), code with escapes, nulls, floats and ints. 30% of the lines are written
with ensure_ascii=True so they carry \\uXXXX escapes and surrogate pairs.

usage: gen_chat_jsonl.py OUT.jsonl [MEGABYTES=100] [SEED=7]
"""
import json
import random
import sys

WORDS = {
    "en": "the order was shipped yesterday and will arrive within three business days please confirm".split(),
    "de": "die Bestellung wurde gestern verschickt und kommt in drei Werktagen an bitte bestätigen Straße".split(),
    "fr": "la commande a été expédiée hier et arrivera sous trois jours ouvrés merci de confirmer".split(),
    "ru": "заказ был отправлен вчера и прибудет в течение трёх рабочих дней пожалуйста подтвердите".split(),
    "zh": "订单 已经 昨天 发货 将 在 三个 工作日 内 到达 请 确认".split(),
    "ja": "ご注文 は 昨日 発送 されました 三 営業日 以内 に 到着 します ご確認 ください".split(),
    "ar": "تم شحن الطلب أمس وسيصل خلال ثلاثة أيام عمل يرجى التأكيد".split(),
    "emoji": ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪", "🚚", "✅", "❤️"],
}
CODE = 'def f(x):\n\treturn "a\\\\b" + str(x)  # "quoted"\n'


def text(rng, n):
    lang = rng.choice(list(WORDS))
    out = [rng.choice(WORDS[lang]) for _ in range(n)]
    if rng.random() < 0.2:
        out.append(CODE)
    return " ".join(out)


def record(rng, i):
    messages = [{"role": "system", "content": text(rng, 40)}]
    for t in range(rng.randint(1, 6)):
        messages.append({"role": "user", "content": text(rng, rng.randint(5, 60))})
        if rng.random() < 0.6:
            args = {"order_id": f"#W{rng.randint(1000000, 9999999)}", "qty": rng.randint(1, 9),
                    "note": text(rng, 6), "price": round(rng.random() * 100, 2), "gift": None}
            call_id = f"call_{i}_{t}"
            messages.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function",
                 "function": {"name": "get_order_details", "arguments": json.dumps(args, ensure_ascii=rng.random() < 0.5)}}]})
            messages.append({"role": "tool", "tool_call_id": call_id, "name": "get_order_details",
                             "content": json.dumps({"status": "pending", "items": [text(rng, 3) for _ in range(3)]})})
        messages.append({"role": "assistant", "content": text(rng, rng.randint(10, 80))})
    return {"id": f"rec-{i}", "meta": {"model": "m", "stats": {"turns": len(messages), "score": rng.random(),
            "ok": rng.random() < 0.5}, "tags": [text(rng, 1) for _ in range(3)]}, "messages": messages}


def main():
    out = sys.argv[1]
    limit = int(float(sys.argv[2] if len(sys.argv) > 2 else 100) * 1e6)
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    written = 0
    i = 0
    with open(out, "w", encoding="utf-8") as f:
        while written < limit:
            line = json.dumps(record(rng, i), ensure_ascii=rng.random() < 0.3) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            i += 1
    print(f"wrote {i} records, {written} bytes to {out}")


if __name__ == "__main__":
    main()
