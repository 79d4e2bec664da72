#!/usr/bin/env python3
"""Write a deterministic corpus of canonical trajectories with known duplicates, for the dedup
benchmark (trajforge-bench dedup, tools/dedup/datasketch_bench.py).

Conversations are scaled up from our quickstart sample (recipes/quickstart: the bookshop policy,
its three tools and its conversation flow: ask for the email, find the customer, look orders up,
cancel with a reason after a yes). Each original gets its own customer, orders, titles and
reasons, and user/assistant text mixing the sample's phrases with words from a synthetic Zipf
vocabulary, so unrelated records share little. About 10% of the records are exact copies
(new id, trial and outcome; extra whitespace) and about 10% near copies (1-3 word edits, a changed
tool argument, or a dropped user turn) of a record among the previous 50,000.

usage: gen_dedup_corpus.py OUT.jsonl [RECORDS=100000] [SEED=7]
The last line on stderr gives the counts of originals, exact and near copies.
"""
import json
import os
import random
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SAMPLE = os.path.join(ROOT, "recipes", "quickstart")

SYLLABLES = ["ka", "to", "mi", "ra", "ne", "lo", "su", "vi", "da", "pe", "qu", "zo", "ti", "ba", "fe", "go", "hu", "ji",
             "le", "mo", "nu", "pa", "ri", "se", "ta", "ve", "wi", "xo", "ya", "ze", "an", "el", "in", "or", "us", "ex"]
REASONS = ["ordered by mistake", "no longer needed", "found a better price", "wrong edition", "arrived too late"]
STATUSES = ["processing", "shipped", "delivered", "pending"]
OPENINGS = ["Hi, I ordered a book by mistake and want to cancel it.", "Hello, please cancel my order, I ordered it by mistake.",
            "Has my order shipped?", "I would like to check on an order I placed.", "Can you tell me where my books are?"]
ASSISTANT = ["I can help.", "What is the email on your account?", "Let me find your account first.",
             "Which order would you like to cancel?", "Your order is cancelled.", "Is there anything else I can help with?"]


class Generator:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        words, seen = [], set()
        while len(words) < 5000:
            w = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(1, 3)))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        with open(os.path.join(SAMPLE, "rollouts.json"), encoding="utf-8") as f:
            self.system = json.load(f)[0]["traj"][0]["content"]
        with open(os.path.join(SAMPLE, "tools.json"), encoding="utf-8") as f:
            tools = json.load(f)
        self.tools = [t if "function" in t else {"type": "function", "function": t} for t in tools]

    def word(self):
        u = self.rng.random()
        return self.words[min(len(self.words) - 1, int(u * u * u * len(self.words)))]

    def words_(self, lo, hi):
        return " ".join(self.word() for _ in range(self.rng.randint(lo, hi)))

    def title(self):
        return " ".join(self.word().capitalize() for _ in range(self.rng.randint(1, 3)))

    def original(self, k, tasks):
        rng = self.rng
        name = self.word().capitalize()
        email = f"{name.lower()}.{self.word()}@example.com"
        customer = f"cust_{name.lower()}_{rng.randint(1, 999)}"
        orders = [f"B-{rng.randint(1000, 99999)}" for _ in range(rng.randint(1, 3))]
        messages = [{"role": "user", "content": f"{rng.choice(OPENINGS)} {self.words_(8, 25)}."}]
        calls = 0

        def call(name_, args, result):
            nonlocal calls
            calls += 1
            cid = f"call{calls:05d}"
            messages.append({"role": "assistant", "content": None,
                             "tool_calls": [{"id": cid, "name": name_, "arguments": args}]})
            messages.append({"role": "tool", "content": result, "tool_call_id": cid, "name": name_})

        messages.append({"role": "assistant", "content": f"{rng.choice(ASSISTANT)} {self.words_(4, 14)}?"})
        messages.append({"role": "user", "content": f"{email} {self.words_(0, 8)}".strip()})
        call("find_customer_by_email", {"email": email}, customer)
        messages.append({"role": "assistant", "content": f"Thanks, {name}. {self.words_(5, 18)}."})
        for order in orders:
            messages.append({"role": "user", "content": f"{order} {self.words_(3, 16)}."})
            items = [self.title() for _ in range(rng.randint(1, 3))]
            status = rng.choice(STATUSES)
            call("get_order", {"order_id": order},
                 json.dumps({"order_id": order, "status": status, "items": items}))
            if status == "processing" and rng.random() < 0.6:
                reason = rng.choice(REASONS)
                messages.append({"role": "assistant", "content":
                                 f"Order {order} ({', '.join(items)}) is still processing. Cancel it with reason "
                                 f"'{reason}'? (yes/no) {self.words_(0, 10)}"})
                messages.append({"role": "user", "content": "yes"})
                call("cancel_order", {"order_id": order, "reason": reason},
                     json.dumps({"order_id": order, "status": "cancelled"}))
                messages.append({"role": "assistant", "content":
                                 f"Done: {order} is cancelled and you will be refunded. {self.words_(3, 15)}."})
            else:
                messages.append({"role": "assistant", "content":
                                 f"Order {order} ({', '.join(items)}) is {status}. {self.words_(6, 20)}."})
        messages.append({"role": "user", "content": "###STOP###"})
        success = rng.random() < 0.7
        task = rng.randrange(tasks)
        return {"id": "", "source": {"format": "generated", "file": "gen_dedup_corpus.py"},
                "group": f"bookshop:{task}", "trial": 0, "domain": "bookshop", "system": self.system, "tools": self.tools,
                "messages": messages,
                "outcome": {"success": success, "reward": 1.0 if success else 0.0, "checks": {}},
                "task": {"instruction": f"You are {name} ({email}). {self.words_(6, 14)}.", "actions": [], "outputs": []},
                "meta": {}}

    def exact_copy(self, r):
        t = json.loads(json.dumps(r))
        t["trial"] = self.rng.randint(1, 9)
        success = self.rng.random() < 0.7
        t["outcome"] = {"success": success, "reward": 1.0 if success else 0.0, "checks": {}}
        t["messages"][0]["content"] = "  " + t["messages"][0]["content"] + "\n"
        return t

    def near_copy(self, r):
        rng = self.rng
        t = self.exact_copy(r)
        roll = rng.random()
        texts = [m for m in t["messages"] if m["role"] in ("user", "assistant") and m["content"] and " " in m["content"]]
        if roll < 0.6 and texts:
            for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
                m = rng.choice(texts)
                words = m["content"].split(" ")
                words[rng.randrange(len(words))] = self.word()
                m["content"] = " ".join(words)
        elif roll < 0.8:
            calls = [m for m in t["messages"] if m.get("tool_calls")]
            c = rng.choice(calls)["tool_calls"][0]
            key = rng.choice(sorted(c["arguments"]))
            c["arguments"][key] = c["arguments"][key] + "-" + str(rng.randint(1, 9))
        else:
            users = [k for k, m in enumerate(t["messages"]) if m["role"] == "user" and 0 < k < len(t["messages"]) - 1]
            if users:
                del t["messages"][rng.choice(users)]
        return t


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    g = Generator(seed)
    ring, ring_size = [], 50000
    kinds = {"original": 0, "exact": 0, "near": 0}
    tasks = max(1, count // 4)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(count):
            roll = g.rng.random()
            if ring and roll < 0.1:
                t, kind = g.exact_copy(g.rng.choice(ring)), "exact"
            elif ring and roll < 0.2:
                t, kind = g.near_copy(g.rng.choice(ring)), "near"
            else:
                t, kind = g.original(i, tasks), "original"
            kinds[kind] += 1
            t["id"] = f"gen-{i:08d}"
            t["source"]["index"] = i
            if len(ring) < ring_size:
                ring.append(t)
            else:
                ring[g.rng.randrange(ring_size)] = t
            f.write(json.dumps(t, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")
    print(f"{out}: {count} records: {kinds['original']} originals, {kinds['exact']} exact copies, "
          f"{kinds['near']} near copies", file=sys.stderr)


if __name__ == "__main__":
    main()
