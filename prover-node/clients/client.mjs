// The official `openai` npm package, unchanged, against an OTR node (base URL from argv[2]).
// Exits non-zero on any mismatch. Prints one JSON line with what it saw.
import OpenAI from "openai";

const baseURL = process.argv[2];
const client = new OpenAI({ baseURL, apiKey: "unused" });
const fail = (m) => { console.error(`openai-npm: ${m}`); process.exit(1); };

const models = await client.models.list();
if (!models.data.length) fail("no models");
const model = models.data[0].id;

const c = await client.completions.create({ model, prompt: "The sky is", max_tokens: 4, temperature: 0 });
if (!c.choices[0].text || !c.otr?.receipt_id) fail(`completion without text or receipt: ${JSON.stringify(c)}`);

const chat = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 });
if (typeof chat.choices[0].message.content !== "string" || !chat.otr?.receipt_id) fail("chat without content or receipt");

let streamed = "";
let receipt = null;
const stream = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Count" }], max_tokens: 5, stream: true });
for await (const chunk of stream) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
  if (chunk.otr) receipt = chunk.otr.receipt_id;
}
if (!receipt) fail("stream without receipt");

const cs = await client.completions.create({ model, prompt: "One two", max_tokens: 3, stream: true });
let n = 0;
for await (const chunk of cs) n += chunk.choices.length;
if (n === 0) fail("empty completion stream");

console.log(JSON.stringify({ client: "openai-npm", model, completion: c.choices[0].text, chat_receipt: chat.otr.receipt_id, stream_receipt: receipt, streamed }));
