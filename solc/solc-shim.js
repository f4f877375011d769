#!/usr/bin/env node
// A drop-in for the native `solc` binary, backed by npm `solc` (wasm), so nothing is downloaded.
// Supports what py-solc-x and brownie call: `--version` and `--standard-json` (input on stdin).
// Imports resolve against --base-path/--include-path/--allow-paths folders, the working
// directory and node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);

function write(text) {
  // Let stdout drain before exiting: process.exit() right after a large write truncates it.
  process.stdout.write(text, () => process.exitCode = process.exitCode || 0);
}

if (args.includes("--version")) {
  const v = solc.version(); // e.g. 0.8.37+commit.xxxx.Emscripten.clang
  write(`solc, the solidity compiler commandline interface\nVersion: ${v.replace(".Emscripten.clang", ".Linux.g++")}\n`);
  return;
}

if (!args.includes("--standard-json")) {
  process.stderr.write("solc-shim supports only --version and --standard-json\n");
  process.exitCode = 1;
  return;
}

const roots = [process.cwd()];
for (let i = 0; i < args.length; i++) {
  if (["--base-path", "--include-path", "--allow-paths"].includes(args[i]) && args[i + 1]) {
    for (const p of args[i + 1].split(",")) roots.push(path.resolve(p));
  }
}
roots.push(path.join(__dirname, "..", "node_modules"));
roots.push(path.join(process.cwd(), "node_modules"));

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath) ? [importPath] : roots.map((r) => path.join(r, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
write(solc.compile(input, { import: findImports }));
