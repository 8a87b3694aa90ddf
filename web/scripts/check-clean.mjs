// Fails when a path differs from what is committed (modified, deleted or new files), so that CI
// notices generated code that was not regenerated after a proto change. Usage:
// `node check-clean.mjs <path>...`, run from the directory the paths are relative to.
import { execFileSync } from "node:child_process";

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error("usage: check-clean.mjs <path>...");
  process.exit(2);
}
const status = execFileSync("git", ["status", "--porcelain", "--", ...paths], {
  encoding: "utf8",
});
// Changes in the working tree (second column) or untracked files; what is staged counts as done.
const dirty = status.split("\n").filter((line) => line.startsWith("??") || (line.length > 1 && line[1] !== " "));
if (dirty.length > 0) {
  console.error(`generated code is out of date; run \`npm run generate\` and commit:\n${dirty.join("\n")}`);
  process.exit(1);
}
console.log(`${paths.join(", ")}: up to date`);
