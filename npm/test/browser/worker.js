import { runAll } from "./run.js";
runAll().then((r) => postMessage(r), (e) => postMessage([{ name: "worker", ok: false, code: "WORKER", message: String(e) }]));
