// Measures the JavaScript a browser downloads to show the console's login route, gzipped, and
// fails above the budget. That is the entry chunk and every chunk it imports statically
// (Vite's manifest: `imports`), not the chunks loaded later by `import()` (`dynamicImports`:
// the shell and each service's screens). Run after `npm run build`.
//
// Usage: node scripts/bundle-size.mjs [app-dir] [budget-kB]   (default: console 300)
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const app = process.argv[2] ?? "console";
const budgetKb = Number(process.argv[3] ?? 300);
const dist = join(web, app, "dist");

let manifest;
try {
  manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
} catch (error) {
  console.error(`cannot read ${app}/dist/.vite/manifest.json (run \`npm run build\` first): ${error.message}`);
  process.exit(2);
}

const entries = Object.entries(manifest).filter(([, chunk]) => chunk.isEntry);
if (entries.length !== 1) {
  console.error(`expected one entry chunk in the manifest, found ${entries.length}`);
  process.exit(2);
}

const seen = new Set();
const files = [];
function visit(key) {
  if (seen.has(key)) return;
  seen.add(key);
  const chunk = manifest[key];
  if (!chunk) throw new Error(`manifest has no chunk ${key}`);
  if (chunk.file.endsWith(".js")) files.push(chunk.file);
  for (const imported of chunk.imports ?? []) visit(imported);
}
visit(entries[0][0]);

let total = 0;
for (const file of files) {
  const gzipped = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
  total += gzipped;
  console.log(`${(gzipped / 1024).toFixed(1).padStart(8)} kB  ${file}`);
}
const totalKb = total / 1024;
console.log(`${totalKb.toFixed(1).padStart(8)} kB  gzipped JS for ${app}'s login route (budget ${budgetKb} kB)`);
if (totalKb > budgetKb) {
  console.error(`over budget by ${(totalKb - budgetKb).toFixed(1)} kB`);
  process.exit(1);
}
