// Measures the JavaScript a browser downloads to show each web app's first screen (the login
// route), gzipped, and fails when one is over its budget. That is the entry chunk and every chunk
// it imports statically (Vite's manifest: `imports`), not the chunks loaded later by `import()`
// (`dynamicImports`: the shell and each screen). Run after `npm run build`.
//
// The build also writes a brotli and a gzip copy beside each file (`index-abc.js.br`, `.gz`),
// which the server sends to browsers that accept them. They are not chunks: the manifest never
// names them and the script would skip them if it did. The budget is on gzip at level 9, as it
// always was; the brotli copy's size — what a browser actually downloads — is shown beside it.
//
// Budgets: the console's login 300 kB (officials, desktop, office network); the farmers' app's
// login 200 kB (a phone on a village's mobile network, often 3G).
//
// Usage: node scripts/bundle-size.mjs                 both apps, their budgets
//        node scripts/bundle-size.mjs <app> <budget-kB>   one app
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const BUDGETS = { console: 300, farmer: 200 };
const apps = process.argv[2] ? { [process.argv[2]]: Number(process.argv[3] ?? BUDGETS[process.argv[2]] ?? 300) } : BUDGETS;

/** Gzipped bytes of the entry chunk and its static imports, listing each file. */
function firstScreenBytes(app) {
  const dist = join(web, app, "dist");
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dist, ".vite", "manifest.json"), "utf8"));
  } catch (error) {
    throw new Error(`cannot read ${app}/dist/.vite/manifest.json (run \`npm run build\` first): ${error.message}`);
  }
  const entries = Object.entries(manifest).filter(([, chunk]) => chunk.isEntry);
  if (entries.length !== 1) {
    throw new Error(`${app}: expected one entry chunk in the manifest, found ${entries.length}`);
  }
  const seen = new Set();
  const files = [];
  const visit = (key) => {
    if (seen.has(key)) return;
    seen.add(key);
    const chunk = manifest[key];
    if (!chunk) throw new Error(`${app}: manifest has no chunk ${key}`);
    if (chunk.file.endsWith(".js") && !/\.(gz|br)$/.test(chunk.file)) files.push(chunk.file);
    for (const imported of chunk.imports ?? []) visit(imported);
  };
  visit(entries[0][0]);
  let total = 0;
  let shipped = 0;
  for (const file of files) {
    const gzipped = gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
    const copy = join(dist, `${file}.br`);
    const brotli = existsSync(copy) ? statSync(copy).size : undefined;
    total += gzipped;
    shipped += brotli ?? gzipped;
    const sent = brotli === undefined ? "(no .br copy)" : `${(brotli / 1024).toFixed(1)} kB br`;
    console.log(`${(gzipped / 1024).toFixed(1).padStart(8)} kB  ${app}/dist/${file}  ${sent}`);
  }
  return { total, shipped };
}

const results = [];
let failed = false;
for (const [app, budgetKb] of Object.entries(apps)) {
  try {
    const { total, shipped } = firstScreenBytes(app);
    results.push({ app, budgetKb, kb: total / 1024, brKb: shipped / 1024 });
  } catch (error) {
    console.error(error.message);
    failed = true;
  }
}
console.log("");
for (const { app, budgetKb, kb, brKb } of results) {
  const over = kb > budgetKb;
  console.log(
    `${kb.toFixed(1).padStart(8)} kB  gzipped JS for ${app}'s login route (budget ${budgetKb} kB)${over ? `: OVER by ${(kb - budgetKb).toFixed(1)} kB` : ""}; ${brKb.toFixed(1)} kB sent as brotli`,
  );
  failed ||= over;
}
process.exit(failed ? 1 : 0);
