// The demo in a real browser (Debian Chromium via playwright-core): a real node answers, the
// page verifies the bundle with the WebAssembly verifier, and each tamper switch turns the
// matching check red with its error code. A screenshot goes to target/test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { chromium } from "playwright-core";

const root = new URL("../..", import.meta.url).pathname;
const otr = process.env.OTR_BIN ?? join(root, "target/debug/otr");
let node, browser, port;

const freePort = () => new Promise((res) => { const s = createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });

before(async () => {
  assert.ok(existsSync(otr), `${otr} missing: build it with cargo build -p otr-node`);
  assert.ok(existsSync(join(root, "web-demo/vendor/otr-verifier/index.js")), "run scripts/build-web-demo.sh first");
  port = await freePort();
  node = spawn(otr, ["serve", "--model", "fixture-gemma3", "--attestation", "dev", "--listen", `127.0.0.1:${port}`,
    "--data-dir", mkdtempSync(join(tmpdir(), "otr-demo-")), "--batch-window-ms", "50", "--web-demo", join(root, "web-demo")],
    { stdio: ["ignore", "inherit", "inherit"] });
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) break; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  node?.kill("SIGKILL");
});

async function overall(page) {
  await page.waitForFunction(() => !["waiting", "verifying…"].includes(document.querySelector("#overall").textContent));
  return page.$eval("#overall", (e) => e.dataset.code);
}

test("ask, verify, tamper: every check turns red with its code", async () => {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => document.querySelector("#mode").textContent.includes("DEV"));
  await page.fill("#prompt", "The capital of France is");
  await page.click("#send");
  await page.waitForFunction(() => document.querySelector("#receipt-line").textContent.includes("bundle fetched"), null, { timeout: 30000 });
  assert.equal(await overall(page), "ok");
  const states = await page.$$eval("#checks li", (ls) => ls.map((l) => [l.dataset.check, l.className]));
  for (const [id, st] of states) assert.ok(["ok", "skip"].includes(st), `${id}: ${st}`);
  assert.ok(states.filter(([, st]) => st === "ok").length >= 6);
  assert.ok((await page.textContent("#answer")).length > 0);
  mkdirSync(join(root, "target/test-artifacts"), { recursive: true });
  await page.screenshot({ path: join(root, "target/test-artifacts/web-demo-verified.png"), fullPage: true });

  for (const [which, code, check] of [
    ["report", "REPORT_SIGNATURE_INVALID", "report"],
    ["receipt", "INCLUSION_ROOT_MISMATCH", "inclusion"],
    ["header", "HEADER_SIGNER_MISMATCH", "header"],
  ]) {
    await page.check(`[data-tamper=${which}]`);
    assert.equal(await overall(page), code, which);
    assert.equal(await page.$eval(`#checks li[data-check=${check}]`, (l) => l.className), "fail");
    assert.equal(await page.$eval(`#checks li[data-check=${check}] .code`, (l) => l.textContent), code);
    if (which === "report") await page.screenshot({ path: join(root, "target/test-artifacts/web-demo-tampered.png"), fullPage: true });
    await page.uncheck(`[data-tamper=${which}]`);
    assert.equal(await overall(page), "ok");
  }
  assert.deepEqual(errors, []);
});

test("paste mode verifies a bundle without a node", async () => {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/?node=http://127.0.0.1:9`);
  const bundle = await (await fetch(`http://127.0.0.1:${port}/v1/receipts`)).json();
  const id = bundle.receipts[0];
  const text = await (await fetch(`http://127.0.0.1:${port}/v1/receipts/${id}/bundle`)).text();
  const info = await (await fetch(`http://127.0.0.1:${port}/v1/node`)).json();
  await page.click("#tab-paste");
  await page.fill("#bundle-text", text);
  await page.fill("#dev-root", info.dev_root_pem);
  await page.click("#verify-pasted");
  assert.equal(await overall(page), "ok");
  // Without trusting the dev root: rejected at the device chain, with the policy's code.
  await page.fill("#dev-root", "");
  await page.click("#verify-pasted");
  assert.match(await overall(page), /^(POLICY_DEV_ROOT|CHAIN_UNTRUSTED_ROOT)$/);
});
