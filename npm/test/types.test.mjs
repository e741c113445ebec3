// The published types, as ES module and CommonJS consumers see them (tsc, module node16, through
// the package's own "exports" map): the claims, the options and the strict union of error codes.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";

import { NPM } from "./helpers.mjs";

test("types: ESM and CJS consumers type-check against dist/*.d.ts and *.d.cts", () => {
  execFileSync(process.execPath, [join(NPM, "node_modules/typescript/bin/tsc"), "-p", join(NPM, "test/types/tsconfig.json")], {
    stdio: "inherit",
  });
});
