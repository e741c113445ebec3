// The package as an ES module in a real browser (Debian chromium, driven by playwright-core):
// a local static server on 127.0.0.1 serves npm/dist, this folder and the fixtures; the page
// verifies a fixture bundle and a tampered copy, on the page and in a module Web Worker. Every
// request outside the test server is recorded and refused: the package must make none. A
// screenshot goes to target/test-artifacts/browser-verifier.png.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { test } from "node:test";

import { ARTIFACTS, FIXTURES, NPM } from "../helpers.mjs";

const CHROMIUM = process.env.OTR_CHROMIUM ?? "/usr/bin/chromium";
const TYPES = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".pem": "text/plain",
  ".otrb": "application/octet-stream",
};
const ROOTS = {
  "/dist/": join(NPM, "dist"),
  "/test/": join(NPM, "test/browser"),
  "/fixtures/": FIXTURES,
};

function serve() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    for (const [prefix, dir] of Object.entries(ROOTS)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(dir) || !existsSync(file)) break;
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(readFileSync(file));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install chromium; scripts/setup.sh does)`;

test("browser: verify a bundle and a tampered one, on the page and in a worker", { skip, timeout: 120_000 }, async () => {
  const { chromium } = await import("playwright-core");
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), "otr-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  });
  const foreign = [];
  try {
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin + "/")) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const logs = [];
    page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`${origin}/test/page.html`);
    await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 60_000 });
    const results = await page.evaluate(() => window.__results);
    assert.equal(results.error, undefined, `${results.error}\n${logs.join("\n")}`);

    for (const where of ["page", "worker"]) {
      const [bin, obj, tampered] = results[where];
      assert.deepEqual([bin.ok, bin.finality, bin.production], [true, "final", false], `${where}: ${JSON.stringify(bin)}`);
      assert.deepEqual([obj.ok, obj.finality], [true, "final"], `${where}: ${JSON.stringify(obj)}`);
      assert.equal(tampered.ok, false, where);
      assert.equal(tampered.code, "REPORT_SIGNATURE_INVALID", `${where}: ${JSON.stringify(tampered)}`);
      assert.equal(tampered.stage, "report");
      assert.equal(tampered.isOtrError, true);
      assert.equal(tampered.isError, true);
    }
    assert.deepEqual(foreign, [], "the package must make no request outside the page's origin");

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "browser-verifier.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    console.log(`# screenshot: ${shot}`);
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
