"""The official `openai` Python package, unchanged, against an OTR node (base URL from argv[1]).
Exits non-zero on any mismatch. Prints one JSON line with what it saw."""
import json
import sys

from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key="unused")
model = client.models.list().data[0].id

c = client.completions.create(model=model, prompt="The sky is", max_tokens=4, temperature=0)
extra = c.model_extra or {}
assert c.choices[0].text and extra.get("otr", {}).get("receipt_id"), c

chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
assert isinstance(chat.choices[0].message.content, str)
assert (chat.model_extra or {}).get("otr", {}).get("receipt_id")

streamed, receipt = "", None
for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Count"}], max_tokens=5, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        streamed += chunk.choices[0].delta.content
    otr = (chunk.model_extra or {}).get("otr")
    if otr:
        receipt = otr["receipt_id"]
assert receipt, "stream without receipt"

n = sum(len(ch.choices) for ch in client.completions.create(model=model, prompt="One two", max_tokens=3, stream=True))
assert n > 0, "empty completion stream"
print(json.dumps({"client": "openai-python", "model": model, "completion": c.choices[0].text, "stream_receipt": receipt}))
