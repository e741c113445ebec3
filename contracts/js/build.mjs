// Compiles contracts/src/**/*.sol with the pinned solcjs and writes contracts/artifacts/<Name>.json
// (ABI, creation and runtime bytecode, storage layout). `--check` compiles in memory and fails
// unless the committed artifacts are reproduced byte for byte. Run through scripts/build-contracts.sh.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const srcDir = path.join(root, "src");
const outDir = path.join(root, "artifacts");
const check = process.argv.includes("--check");

function walk(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? walk(p) : e.name.endsWith(".sol") ? [p] : [];
    });
}

const sources = {};
for (const f of walk(srcDir)) {
  const name = path.relative(root, f).split(path.sep).join("/");
  sources[name] = { content: fs.readFileSync(f, "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: {
      "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"] },
    },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of output.errors ?? []) {
  process.stderr.write(e.formattedMessage ?? e.message);
  if (e.severity === "error") failed = true;
}
if (failed) process.exit(1);

// Artifacts for deployable contracts and interfaces; internal libraries and abstract bases are
// compiled into their users.
const artifacts = {};
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  if (sourceName.startsWith("src/lib/")) continue;
  for (const [name, c] of Object.entries(contracts)) {
    if (name === "Owned") continue;
    if (artifacts[name]) throw new Error(`duplicate contract name ${name}`);
    const art = {
      contractName: name,
      sourceName,
      compiler: `solc ${solc.version()}`,
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
      storageLayout: c.storageLayout,
    };
    artifacts[`${name}.json`] = JSON.stringify(art, null, 2) + "\n";
  }
}

if (check) {
  const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
  const problems = [];
  for (const [file, text] of Object.entries(artifacts)) {
    const p = path.join(outDir, file);
    if (!fs.existsSync(p)) problems.push(`missing: artifacts/${file}`);
    else if (fs.readFileSync(p, "utf8") !== text) problems.push(`differs: artifacts/${file}`);
  }
  for (const f of present) if (!(f in artifacts)) problems.push(`stale: artifacts/${f}`);
  if (problems.length) {
    process.stderr.write(problems.join("\n") + "\nrun scripts/build-contracts.sh to regenerate\n");
    process.exit(1);
  }
  process.stderr.write(`artifacts reproduce byte for byte (${Object.keys(artifacts).length} contracts, solc ${solc.version()})\n`);
} else {
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (f.endsWith(".json") && !(f in artifacts)) fs.unlinkSync(path.join(outDir, f));
  for (const [file, text] of Object.entries(artifacts)) {
    const p = path.join(outDir, file);
    if (!fs.existsSync(p) || fs.readFileSync(p, "utf8") !== text) fs.writeFileSync(p, text);
  }
  process.stderr.write(`wrote ${Object.keys(artifacts).length} artifacts to contracts/artifacts (solc ${solc.version()})\n`);
}
