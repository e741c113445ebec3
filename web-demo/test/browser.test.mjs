// The demo in a real browser (Debian Chromium via playwright-core): a real node answers, the
// page verifies the bundle with the WebAssembly verifier, and each tamper switch turns the
// matching check red with its error code; the proof switch is exercised on the full fixture
// bundle (paste mode) and on a bundle from a node with spot-checks on (`--zk-params`,
// `--spot-check-rate 1`, a setup made by `otr zk ceremony`). Screenshots go to
// target/test-artifacts/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, existsSync, readFileSync } from "node:fs";
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
  assert.equal(Object.fromEntries(states).prompt, "ok", "the trace ran the prompt sent");
  assert.ok((await page.textContent("#answer")).length > 0);
  mkdirSync(join(root, "target/test-artifacts"), { recursive: true });
  await page.screenshot({ path: join(root, "target/test-artifacts/web-demo-verified.png"), fullPage: true });

  for (const [which, code, check] of [
    ["report", "REPORT_SIGNATURE_INVALID", "report"],
    ["receipt", "INCLUSION_ROOT_MISMATCH", "inclusion"],
    ["header", "HEADER_SIGNER_MISMATCH", "header"],
    ["prompt", "PROMPT_OPENING_INVALID", "prompt"],
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

test("paste mode: a bundle with full evidence and a Groth16 proof; the proof switch turns the proof check red", async () => {
  // fixtures/bundles/full_a1_like: A1-shaped dev evidence (both RIMs, OCSP answers), finality and
  // one real spot-check proof; its spec.json names the time, both dev roots and the key.
  const dir = join(root, "fixtures/bundles/full_a1_like");
  const spec = JSON.parse(readFileSync(join(dir, "spec.json"), "utf8"));
  const text = readFileSync(join(dir, "bundle.json"), "utf8");
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${port}/?node=http://127.0.0.1:9`);
  await page.click("#tab-paste");
  await page.fill("#bundle-text", text);
  await page.fill("#dev-root", spec.dev_roots.map((f) => readFileSync(join(dir, f), "utf8")).join(""));
  await page.fill("#vk", readFileSync(join(dir, spec.verifying_keys[0]), "utf8"));
  await page.fill("#verify-time", spec.time);
  await page.click("#verify-pasted");
  assert.equal(await overall(page), "ok");
  const detail = (id) => page.$eval(`#checks li[data-check=${id}]`, (l) => [l.className, l.querySelector(".detail").textContent]);
  // The proof is bound to the receipt's trace: its step, rows and matrix are shown.
  const [proofState, proofText] = await detail("proof");
  assert.equal(proofState, "ok");
  assert.match(proofText, /^1 proof\(s\) verified; rows 20\.\.23 of blk\.0\.ffn_down\.weight at trace step 1, bound to this answer/);
  assert.deepEqual(await detail("revocation"), ["ok", "9 OCSP answers GOOD"]);
  assert.equal((await detail("measurements"))[0], "ok");
  assert.match((await detail("finality"))[1], /final/);

  // The page's own tamper function, run on the same bundle through the same package in Node,
  // gives the code the page must show: a proof code, on the proof check.
  const { tamper } = await import("../checks.js");
  const V = await import("../vendor/otr-verifier/index.js");
  const devRoots = spec.dev_roots.map((f) => readFileSync(join(dir, f), "utf8")).join("");
  let expected;
  try {
    await V.verifyBundle(tamper(JSON.parse(text), new Set(["proof"])), {
      time: spec.time,
      policy: { allow_dev_roots: true, require_rims: false, require_ocsp: false },
      trustAnchors: { devRoots },
      verifyingKeys: [readFileSync(join(dir, spec.verifying_keys[0]), "utf8")],
    });
  } catch (e) {
    expected = e.code;
  }
  assert.match(expected ?? "verified", /^PROOF_/, "the flipped proof must be rejected at the proof stage");
  for (const [which, code, check] of [
    ["proof", expected, "proof"],
    ["report", "REPORT_SIGNATURE_INVALID", "report"],
    ["receipt", "INCLUSION_ROOT_MISMATCH", "inclusion"],
  ]) {
    await page.check(`[data-tamper=${which}]`);
    assert.equal(await overall(page), code, which);
    assert.equal(await page.$eval(`#checks li[data-check=${check}]`, (l) => l.className), "fail");
    assert.equal(await page.$eval(`#checks li[data-check=${check}] .code`, (l) => l.textContent), code);
    if (which === "proof") {
      // Everything before the proof check passed; finality was not reached.
      for (const id of ["header", "inclusion", "chain", "report", "nonce", "revocation", "measurements"]) {
        assert.equal((await detail(id))[0], "ok", id);
      }
      assert.equal((await detail("finality"))[0], "pending");
      await page.screenshot({ path: join(root, "target/test-artifacts/web-demo-proof-tampered.png"), fullPage: true });
    }
    await page.uncheck(`[data-tamper=${which}]`);
    assert.equal(await overall(page), "ok");
  }
  assert.deepEqual(errors, []);
});

test("a node with spot-checks on: its bundle's real proof verifies in the page, and the proof switch turns it red", async () => {
  // A setup for the fixture model's 64 x 64 projections (two contributions), then a node that
  // proves every posted receipt (`--spot-check-rate 1`).
  const dir = mkdtempSync(join(tmpdir(), "otr-demo-zk-"));
  const run = (...args) => execFileSync(otr, args, { stdio: ["ignore", "ignore", "inherit"] });
  run("zk", "ceremony", "init", "--rows", "64", "--cols", "64", "--rows-per-unit", "4", "--insecure-public-phase1", "--out", join(dir, "c0.bin"));
  run("zk", "ceremony", "contribute", "--in", join(dir, "c0.bin"), "--out", join(dir, "c1.bin"), "--name", "alice");
  run("zk", "ceremony", "contribute", "--in", join(dir, "c1.bin"), "--out", join(dir, "c2.bin"), "--name", "bob");
  run("zk", "ceremony", "finalize", "--in", join(dir, "c2.bin"), "--out-dir", join(dir, "keys"));
  const zkPort = await freePort();
  const zkNode = spawn(otr, ["serve", "--model", "fixture-gemma3", "--attestation", "dev", "--listen", `127.0.0.1:${zkPort}`,
    "--data-dir", join(dir, "data"), "--batch-window-ms", "50", "--zk-params", join(dir, "keys"),
    "--spot-check-rate", "1", "--post-interval-ms", "200", "--web-demo", join(root, "web-demo")],
  { stdio: ["ignore", "inherit", "inherit"] });
  try {
    const base = `http://127.0.0.1:${zkPort}`;
    for (let i = 0; i < 300; i++) {
      try { if ((await fetch(`${base}/health`)).ok) break; } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    const info = await (await fetch(`${base}/v1/node`)).json();
    assert.ok(info.zk_spot_checks?.verification_key, "the node publishes its verifying key");

    // Ask through the page; its first bundle is provisional (the proof comes after posting).
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    await page.waitForFunction(() => document.querySelector("#mode").textContent.includes("DEV"));
    await page.fill("#prompt", "The tower is in");
    await page.click("#send");
    await page.waitForFunction(() => document.querySelector("#receipt-line").textContent.includes("bundle fetched"), null, { timeout: 30000 });
    assert.equal(await overall(page), "ok");
    const id = (await page.textContent("#receipt-line")).match(/receipt (\S+)/)[1];

    // Wait for the node to attach the proof, then verify that bundle in the page.
    let text;
    for (let t = Date.now(); ; ) {
      const r = await fetch(`${base}/v1/receipts/${id}/bundle`);
      if (r.ok) {
        text = await r.text();
        if (JSON.parse(text).zk_proofs?.length) break;
      }
      assert.ok(Date.now() - t < 240_000, "no spot-check proof in the node's bundle");
      await new Promise((r) => setTimeout(r, 300));
    }
    await page.click("#tab-paste");
    await page.fill("#bundle-text", text);
    await page.fill("#dev-root", info.dev_root_pem);
    await page.fill("#vk", JSON.stringify(info.zk_spot_checks.verification_key));
    await page.click("#verify-pasted");
    assert.equal(await overall(page), "ok");
    assert.equal(await page.$eval("#checks li[data-check=proof]", (l) => l.className), "ok");
    assert.match(await page.$eval("#checks li[data-check=proof] .detail", (l) => l.textContent), /bound to this answer/);

    // The same tamper, run in Node through the same package, names the code the page must show.
    const { tamper } = await import("../checks.js");
    const V = await import("../vendor/otr-verifier/index.js");
    let expected;
    try {
      await V.verifyBundle(tamper(JSON.parse(text), new Set(["proof"])), {
        policy: { allow_dev_roots: true, require_rims: false, require_ocsp: false },
        trustAnchors: { devRoots: info.dev_root_pem },
        verifyingKeys: [JSON.stringify(info.zk_spot_checks.verification_key)],
      });
    } catch (e) {
      expected = e.code;
    }
    assert.match(expected ?? "verified", /^PROOF_/);
    await page.check("[data-tamper=proof]");
    assert.equal(await overall(page), expected);
    assert.equal(await page.$eval("#checks li[data-check=proof]", (l) => l.className), "fail");
    assert.equal(await page.$eval("#checks li[data-check=proof] .code", (l) => l.textContent), expected);
    await page.screenshot({ path: join(root, "target/test-artifacts/web-demo-node-proof-tampered.png"), fullPage: true });
    await page.uncheck("[data-tamper=proof]");
    assert.equal(await overall(page), "ok");
    assert.deepEqual(errors, []);
  } finally {
    zkNode.kill("SIGKILL");
  }
});
