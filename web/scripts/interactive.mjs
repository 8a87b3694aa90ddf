// How long the console takes to become usable: loads /console/ in the system Chromium N times,
// each in a fresh browser context (empty cache, no cookies, no storage: a first visit), and
// reports for each load the time from navigation start until the login form's phone input is
// enabled and takes focus, beside First Contentful Paint from the Performance API. Prints each
// load, then the median and the maximum. A measurement, not a test: it fails only when a load
// never becomes interactive.
//
// Configured by the environment:
//   TERRACE_URL   the server's gRPC port origin, which serves /console/ (required)
//   RUNS          how many loads, default 5
//   CHROMIUM      the browser, default /usr/bin/chromium
//   CPU_SLOWDOWN  a CPU throttling factor through the DevTools protocol (e.g. 4 for a cheap
//                 laptop), default none
//   NETWORK       "4g" or "3g" to emulate a slower network (latency and bandwidth), default none
//
// Usage: TERRACE_URL=http://127.0.0.1:50051 npm run measure:interactive
import { chromium } from "playwright-core";

const base = process.env.TERRACE_URL?.replace(/\/+$/, "");
if (!base) {
  console.error("TERRACE_URL is not set (the server's gRPC port origin, e.g. http://127.0.0.1:50051)");
  process.exit(2);
}
const runs = Number(process.env.RUNS ?? 5);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const cpuSlowdown = Number(process.env.CPU_SLOWDOWN ?? 1);
/** Chrome DevTools' presets: latency (ms) and throughput (bytes/s). */
const NETWORKS = {
  "4g": { latency: 60, downloadThroughput: (9 * 1024 * 1024) / 8, uploadThroughput: (1.5 * 1024 * 1024) / 8 },
  "3g": { latency: 150, downloadThroughput: (1.6 * 1024 * 1024) / 8, uploadThroughput: (750 * 1024) / 8 },
};
const network = process.env.NETWORK ? NETWORKS[process.env.NETWORK] : undefined;
if (process.env.NETWORK && !network) {
  console.error(`NETWORK must be one of ${Object.keys(NETWORKS).join(", ")}`);
  process.exit(2);
}
const TIMEOUT = 30_000;

/**
 * Runs in the page before its own scripts: resolves with performance.now() (milliseconds since
 * navigation start) at the first moment the login form's phone input is in the document, enabled,
 * rendered and able to take focus. Checked on every DOM change and every frame.
 */
function probe() {
  window.__terraceInteractive = new Promise((resolve) => {
    let done = false;
    const check = () => {
      if (done) return;
      const input = document.querySelector('form input[type="tel"]');
      if (!input || input.disabled || input.readOnly || input.getClientRects().length === 0) return;
      const before = document.activeElement;
      input.focus({ preventScroll: true });
      if (document.activeElement !== input) return;
      done = true;
      const at = performance.now();
      input.blur();
      if (before instanceof HTMLElement) before.focus({ preventScroll: true });
      observer.disconnect();
      resolve(at);
    };
    const observer = new MutationObserver(check);
    observer.observe(document, { childList: true, subtree: true, attributes: true });
    const frame = () => {
      check();
      if (!done) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const results = [];
try {
  for (let run = 1; run <= runs; run += 1) {
    const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    if (network) {
      await cdp.send("Network.emulateNetworkConditions", { offline: false, ...network });
    }
    if (cpuSlowdown > 1) {
      await cdp.send("Emulation.setCPUThrottlingRate", { rate: cpuSlowdown });
    }
    await page.addInitScript(probe);
    await page.goto(`${base}/console/`, { waitUntil: "commit", timeout: TIMEOUT });
    const interactiveMs = await page.evaluate(() => window.__terraceInteractive);
    // FCP is reported once painted, which is before the input is interactive (or in the same frame).
    const timing = await page.evaluate(async () => {
      const fcp = await new Promise((resolve) => {
        const found = performance.getEntriesByName("first-contentful-paint")[0];
        if (found) return resolve(found.startTime);
        new PerformanceObserver((list) => {
          const entry = list.getEntriesByName("first-contentful-paint")[0];
          if (entry) resolve(entry.startTime);
        }).observe({ type: "paint", buffered: true });
      });
      const [navigation] = performance.getEntriesByType("navigation");
      const scripts = performance
        .getEntriesByType("resource")
        .filter((r) => r.initiatorType === "script" || r.name.endsWith(".js"));
      return {
        fcp,
        ttfb: navigation?.responseStart ?? NaN,
        domContentLoaded: navigation?.domContentLoadedEventEnd ?? NaN,
        scriptBytes: scripts.reduce((sum, r) => sum + (r.transferSize || r.encodedBodySize || 0), 0),
        url: location.pathname,
      };
    });
    results.push({ interactive: interactiveMs, ...timing });
    console.log(
      `load ${run}: interactive ${ms(interactiveMs)}, FCP ${ms(timing.fcp)}, TTFB ${ms(timing.ttfb)}, ` +
        `DOMContentLoaded ${ms(timing.domContentLoaded)}, JS ${(timing.scriptBytes / 1024).toFixed(1)} kB on the wire (${timing.url})`,
    );
    await context.close();
  }
} finally {
  await browser.close();
}

const conditions = [
  network ? `network ${process.env.NETWORK}` : "no network throttling",
  cpuSlowdown > 1 ? `CPU ${cpuSlowdown}x slower` : "no CPU throttling",
].join(", ");
console.log(`\n${runs} cold loads of ${base}/console/ (${conditions}):`);
for (const [name, key] of [
  ["interactive (phone input enabled and focusable)", "interactive"],
  ["first contentful paint", "fcp"],
]) {
  const values = results.map((r) => r[key]);
  console.log(`  ${name}: median ${ms(median(values))}, max ${ms(Math.max(...values))}`);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function ms(value) {
  return Number.isFinite(value) ? `${Math.round(value)} ms` : "n/a";
}
