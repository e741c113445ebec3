// The one Node API the facade touches (reading its own .wasm file), declared here so the package
// needs no @types/node. Used only when running in Node.
declare module "node:fs/promises" {
  export function readFile(path: string | URL): Promise<Uint8Array>;
}
