// The demo page: ask a local node (streaming), then verify its answer bundle in the browser.
import { chatPrompt, verifyBundle } from "./vendor/otr-verifier/index.js";
import { rows, tamper } from "./checks.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const nodeUrl = params.get("node") ?? (location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:8080");
let current = null; // { bundle (JSON object), options }

$("node-url").textContent = nodeUrl;

async function nodeInfo() {
  try {
    const r = await fetch(`${nodeUrl}/v1/node`);
    const info = await r.json();
    const dev = info.attestation === "dev";
    $("mode").textContent = dev ? "DEV ATTESTATION: NOT PRODUCTION" : "NVIDIA H100 attestation";
    $("mode").className = `badge ${dev ? "dev" : "prod"}`;
    $("node-info").textContent = `· ${info.model.name} · weights ${info.model.weights_root.slice(0, 12)}… · window ${info.batch_window_ms} ms`;
    return info;
  } catch {
    $("mode").textContent = "no node (paste mode works offline)";
    return null;
  }
}
const infoPromise = nodeInfo();

function render(claims, error) {
  const list = $("checks");
  list.replaceChildren();
  for (const r of rows(claims, error)) {
    const li = document.createElement("li");
    li.className = r.state;
    li.dataset.check = r.id;
    const mark = { ok: "✓", fail: "✗", skip: "–", pending: "·" }[r.state];
    li.innerHTML = `<span class="mark">${mark}</span><strong></strong> <span class="code"></span><span class="detail"></span>`;
    li.querySelector("strong").textContent = r.title;
    li.querySelector(".code").textContent = r.code ?? "";
    li.querySelector(".detail").textContent = r.detail;
    li.title = r.what;
    list.append(li);
  }
  const overall = $("overall");
  if (!claims && !error) {
    overall.textContent = "waiting";
    return;
  }
  overall.textContent = error ? `rejected: ${error.code}` : claims.gpu.production ? "verified" : "verified (dev evidence)";
  overall.className = `pill ${error ? "fail" : "ok"}`;
  overall.dataset.code = error ? error.code : "ok";
  $("claims").textContent = JSON.stringify(error ? { code: error.code, stage: error.stage, message: error.message } : claims, null, 2);
}

async function verifyCurrent() {
  if (!current) return;
  const which = new Set([...document.querySelectorAll("[data-tamper]:checked")].map((e) => e.dataset.tamper));
  const bundle = which.size ? tamper(current.bundle, which) : current.bundle;
  $("overall").textContent = "verifying…";
  try {
    render(await verifyBundle(bundle, current.options), null);
  } catch (e) {
    if (!e.code) throw e;
    render(null, e);
  }
}

function optionsFor(devRootPem, extra = {}) {
  // Dev nodes staple no NVIDIA manifests or OCSP answers, and chain to their own dev root
  // (manifests and OCSP answers a dev bundle does carry are still checked).
  const o = devRootPem
    ? { policy: { allow_dev_roots: true, require_rims: false, require_ocsp: false }, trustAnchors: { devRoots: devRootPem } }
    : {};
  if (extra.vk) o.verifyingKeys = [extra.vk];
  if (extra.vks?.length) o.verifyingKeys = extra.vks;
  if (extra.time) o.time = extra.time;
  // The temperature the demo asked for (greedy): the receipt must record it, since a challenger
  // refutes on chain the tokens the receipt's sampling gives.
  if (extra.temperatureMilli !== undefined) o.expectedTemperatureMilli = extra.temperatureMilli;
  // The prompt the demo sent, as the node runs it: the trace's PROMPT leaf must say exactly it
  // (the chain makes the leaf's tokens answer for that text).
  if (extra.prompt !== undefined) o.expectedPrompt = extra.prompt;
  return o;
}

$("ask").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("send").disabled = true;
  $("answer").textContent = "";
  $("receipt-line").textContent = "";
  const chat = $("as-chat").checked;
  const prompt = $("prompt").value;
  const body = chat
    ? { messages: [{ role: "user", content: prompt }], max_tokens: Number($("max-tokens").value), stream: true, temperature: 0 }
    : { prompt, max_tokens: Number($("max-tokens").value), stream: true, temperature: 0 };
  try {
    const res = await fetch(`${nodeUrl}/${chat ? "v1/chat/completions" : "v1/completions"}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error((await res.json()).error?.message ?? res.statusText);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let otr = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("");
        if (!data || data === "[DONE]") continue;
        const j = JSON.parse(data);
        const ch = j.choices?.[0];
        $("answer").textContent += chat ? (ch?.delta?.content ?? "") : (ch?.text ?? "");
        if (j.otr) otr = j.otr;
      }
    }
    if (!otr) throw new Error("the stream ended without a receipt");
    $("receipt-line").textContent = `receipt ${otr.receipt_id} · hash ${otr.receipt_hash.slice(0, 16)}… · waiting for the attested micro-batch`;
    const b = await fetch(`${nodeUrl}${otr.bundle_url}`);
    if (!b.ok) throw new Error((await b.json()).error?.message ?? b.statusText);
    const bundle = await b.json();
    const info = await infoPromise;
    // A node with spot-checks on publishes its verifying keys (one per matrix shape): its
    // bundles' proofs are checked.
    const zk = info?.zk_spot_checks;
    const vks = (zk?.keys ?? (zk?.verification_key ? [zk] : [])).map((k) => JSON.stringify(k.verification_key));
    // A completion runs its prompt as it is; chat messages run in the node's chat template.
    const ran = chat ? await chatPrompt(body.messages) : prompt;
    current = { bundle, options: optionsFor(info?.dev_root_pem, { vks, temperatureMilli: 0, prompt: ran }) };
    $("receipt-line").textContent = `receipt ${otr.receipt_id} · hash ${otr.receipt_hash.slice(0, 16)}… · bundle fetched`;
    await verifyCurrent();
  } catch (e) {
    $("receipt-line").textContent = `error: ${e.message}`;
  } finally {
    $("send").disabled = false;
  }
});

$("verify-pasted").addEventListener("click", async () => {
  try {
    const bundle = JSON.parse($("bundle-text").value);
    current = {
      bundle,
      options: optionsFor($("dev-root").value.trim() || null, {
        vk: $("vk").value.trim() || null,
        time: $("verify-time").value.trim() || null,
      }),
    };
    await verifyCurrent();
  } catch (e) {
    render(null, e.code ? e : { code: "BUNDLE_JSON_INVALID", stage: "receipt", message: e.message });
  }
});

for (const box of document.querySelectorAll("[data-tamper]")) box.addEventListener("change", verifyCurrent);

function tab(which) {
  $("chat-view").hidden = which !== "chat";
  $("paste-view").hidden = which !== "paste";
  $("tab-chat").classList.toggle("active", which === "chat");
  $("tab-paste").classList.toggle("active", which === "paste");
}
$("tab-chat").addEventListener("click", () => tab("chat"));
$("tab-paste").addEventListener("click", () => tab("paste"));
render(null, null);
