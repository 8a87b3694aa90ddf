// End-to-end smoke test of the farmers' app in a real (phone-sized) browser against a running
// server: SMS-code login through gRPC-Web (the code read from the dev server's SMS log), a field
// error beside its field, the profile (renamed and back), a second family account and switching back, a consent to
// a helper (granted and withdrawn, or the server's refusal shown when the helper is not eligible), the language switch, logout, and the app shell opening offline
// from the service worker, which must never answer a gRPC-Web call.
//
// Needs: `terrace dev --demo` on 127.0.0.1:50051 started in <dir> (its SMS log is
// <dir>/.terrace/sms.log), the built app served with the gRPC-Web proxy
// (`npm run build && npx --workspace @terrace/farmer vite preview`, http://127.0.0.1:4174/farmer/;
// the service worker needs a build, not `vite` dev), and Chromium (Debian: `apt-get install chromium`).
// Sends one code to each of the demo farmer and official: the server allows one a minute per phone.
//
// Usage: node scripts/smoke-farmer.mjs [app-url] [sms-log] [chromium-path]
//   default http://127.0.0.1:4174/farmer/, /tmp/farmertry/.terrace/sms.log, /usr/bin/chromium
import { readFileSync } from "node:fs";
import { chromium, devices } from "playwright-core";

const base = process.argv[2] ?? "http://127.0.0.1:4174/farmer/";
const smsLog = process.argv[3] ?? "/tmp/farmertry/.terrace/sms.log";
const executablePath = process.argv[4] ?? "/usr/bin/chromium";
const FARMER = { typed: "138 0000 0001", e164: "+8613800000001", name: "王秀英" };
const OFFICIAL = { typed: "13800000002", e164: "+8613800000002", name: "李建国" };

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const failures = [];
function check(condition, what) {
  console.log(`${condition ? "ok  " : "FAIL"} ${what}`);
  if (!condition) failures.push(what);
}

/** The newest code in the SMS log for `phone` that was not in `before` lines. */
/** A code in a text of notify's development SMS log: `<phone> 【Terrace】验证码 123456，...`. */
const CODE = /(?:验证码|code) (\d{6})/;

async function codeFor(phone, beforeLines) {
  for (let i = 0; i < 40; i++) {
    let lines = [];
    try {
      lines = readFileSync(smsLog, "utf8").split("\n");
    } catch {
      // not written yet
    }
    const fresh = lines.slice(beforeLines).filter((l) => l.startsWith(`${phone} `) && CODE.test(l));
    const last = fresh.at(-1);
    if (last) return CODE.exec(last)[1];
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no code for ${phone} in ${smsLog}`);
}
function smsLines() {
  try {
    return readFileSync(smsLog, "utf8").split("\n").length - 1;
  } catch {
    return 0;
  }
}

async function loginWithCode(page, person) {
  await page.getByLabel("手机号").fill(person.typed);
  const before = smsLines();
  await page.getByRole("button", { name: /获取验证码/ }).click();
  const code = await codeFor(person.e164, before).catch(async (error) => {
    const alert = page.getByRole("alert");
    // Most often the server's one-code-a-minute limit: wait a minute between runs.
    throw new Error(`${error.message}; the page says: ${(await alert.isVisible()) ? await alert.innerText() : "nothing"}`);
  });
  await page.getByRole("button", { name: /秒后可重发/ }).waitFor({ timeout: 5_000 });
  await page.getByLabel("验证码").fill(code);
  await page.getByLabel("验证码").press("Enter");
  await page.waitForURL(/\/farmer\/me$/, { timeout: 15_000 });
  await page.locator(".shell-user", { hasText: person.name }).waitFor({ timeout: 10_000 });
}

/** Where a failure's screenshot goes. */
const SCREENSHOT = "/tmp/smoke-farmer-failure.png";
let page;
try {
  const context = await browser.newContext({ ...devices["Pixel 7"], locale: "zh-CN" });
  page = await context.newPage();
  const rpcs = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/terrace.")) rpcs.push({ path, headers: request.headers() });
  });
  const fromWorker = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith("/terrace.") && response.fromServiceWorker()) {
      fromWorker.push(response.url());
    }
  });
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));

  await page.goto(base);
  await page.waitForURL(/\/farmer\/login$/);
  check(true, "a first visit goes to the login page");
  const manifest = await page.evaluate(async () => {
    const link = document.querySelector('link[rel="manifest"]');
    return link ? (await fetch(link.href)).json() : undefined;
  });
  check(
    manifest?.start_url === "/farmer/" && manifest?.scope === "/farmer/" && manifest.icons.some((i) => i.purpose === "maskable"),
    "the manifest is linked, scoped to /farmer/, with a maskable icon",
  );
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  check(scope.endsWith("/farmer/"), `a service worker is active for ${scope}`);

  // A number that is certainly not a phone is caught beside the field before any code is sent.
  await page.getByLabel("手机号").fill("12345");
  await page.getByRole("button", { name: /获取验证码/ }).click();
  check((await page.locator("#login-phone-error").innerText()).includes("不像手机号"), "a bad phone is explained beside the field");
  check((await page.getByLabel("手机号").getAttribute("aria-invalid")) === "true", "the phone input is marked invalid");
  // One the client lets through and the server refuses: its field violation goes beside the field.
  await page.getByLabel("手机号").fill("+0123456");
  await page.getByRole("button", { name: /获取验证码/ }).click();
  await page.locator("#login-phone-error").waitFor({ timeout: 10_000 });
  check(true, `server violation beside the phone field: ${await page.locator("#login-phone-error").innerText()}`);

  await loginWithCode(page, FARMER);
  check(true, "the farmer logs in with the SMS code and sees her name");
  const otp = rpcs.find((r) => r.path.endsWith("/RequestOtp"));
  check(otp !== undefined, "RequestOtp was called");
  const login = rpcs.find((r) => r.path.endsWith("/LoginWithOtp"));
  check(login?.headers["x-terrace-session"] === "cookie", "login asks for the refresh cookie");
  await page.getByText("我的账号编号").waitFor({ timeout: 10_000 });
  const current = rpcs.find((r) => r.path.endsWith("/GetCurrentUser"));
  check(current?.headers.authorization?.startsWith("Bearer ") === true, "calls carry the bearer token");
  const farmerId = (await page.locator("code.account-id").innerText()).trim();

  // A second person on the same phone: the official, to be the farmer's helper.
  await page.getByRole("link", { name: "家人账号" }).click();
  await page.getByRole("button", { name: /添加家人账号/ }).click();
  await page.waitForURL(/\/farmer\/login$/);
  await loginWithCode(page, OFFICIAL);
  const officialId = (await page.locator("code.account-id").innerText()).trim();
  check(/^[0-9a-f-]{36}$/.test(officialId) && officialId !== farmerId, "the official's account number is shown");
  await page.getByRole("link", { name: "家人账号" }).click();
  await page.getByRole("button", { name: `切换到 ${FARMER.name}（农户）` }).click();
  await page.locator(".shell-user", { hasText: FARMER.name }).waitFor({ timeout: 10_000 });
  check(true, "switching back to the farmer needs no new code");

  // The farmer renames herself (UpdateUser on her own profile); the header follows; then back.
  await page.locator("code.account-id").waitFor({ timeout: 10_000 });
  const ownName = await page.getByLabel("姓名").inputValue();
  check(ownName.startsWith(FARMER.name), `the profile shows her name (${ownName})`);
  await page.getByLabel("姓名").fill(`${ownName}测`);
  await page.getByRole("button", { name: /保\s*存/ }).click();
  await page.locator(".shell-user", { hasText: `${ownName}测` }).waitFor({ timeout: 10_000 });
  check(true, "a new display name is saved and shown as the account in use");
  await page.getByLabel("姓名").fill(ownName);
  await page.getByRole("button", { name: /保\s*存/ }).click();
  await page.locator(".shell-user", { hasText: new RegExp(`${ownName.replace(/[()（）]/g, ".")}$`) }).waitFor({ timeout: 10_000 });
  const update = rpcs.filter((r) => r.path.endsWith("/UpdateUser"));
  check(update.length === 2, "UpdateUser was called for each change");

  // A consent to the official as helper: the form's own checks, then granted, listed, withdrawn.
  await page.getByRole("link", { name: "帮办授权" }).click();
  await page.getByRole("link", { name: /授权帮办人/ }).click();
  await page.getByRole("button", { name: /确认授权/ }).click();
  await page.getByText("请填写帮办人的账号编号").waitFor({ timeout: 5_000 });
  check(await page.getByText("请至少选一件事").isVisible(), "an empty consent form explains each field");
  await page.getByLabel("帮办人的账号编号").fill(officialId);
  await page.getByText("发布和修改我的农产品").click();
  await page.getByText("一周").click();
  await page.getByRole("button", { name: /确认授权/ }).click();
  // The demo official holds no role grant yet (README: "roles arrive with role grants"), and a
  // helper needs an official or digital-helper role: then the server refuses with
  // FAILED_PRECONDITION, which must show above the form. With an eligible helper, the consent is
  // granted, listed and withdrawn.
  const refused = page.getByRole("alert").filter({ hasText: "allow no helping" });
  await Promise.race([
    page.waitForURL(/\/farmer\/consents$/, { timeout: 10_000 }),
    refused.waitFor({ timeout: 10_000 }),
  ]);
  if (await refused.isVisible()) {
    check(true, "the server's refusal (helper not eligible) shows above the form; grant and withdraw not exercised");
  } else {
    const card = page.locator("li.card", { hasText: officialId }).first();
    await card.waitFor({ timeout: 10_000 });
    check((await card.innerText()).includes("有效"), "the consent is listed as active");
    await card.getByRole("button", { name: /撤回授权/ }).click();
    await page.getByRole("dialog").getByRole("button", { name: /撤回授权/ }).click();
    await page.locator("li.card", { hasText: officialId }).first().waitFor({ state: "detached", timeout: 10_000 });
    check(true, "the withdrawn consent leaves the active list");
  }

  // English, then log out: the farmer is forgotten on this phone, the official stays.
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("link", { name: "Me" }).click();
  await page.getByRole("button", { name: /Log out/ }).click();
  await page.getByRole("dialog").getByRole("button", { name: "OK" }).click();
  await page.waitForURL(/\/farmer\/login$/, { timeout: 10_000 });
  const accounts = await page.evaluate(() => JSON.parse(localStorage.getItem("terrace.accounts") ?? "[]"));
  check(
    accounts.length === 1 && accounts[0].userId === officialId,
    "logout forgets the farmer's account on this phone and keeps the other",
  );
  check(await page.getByRole("heading", { name: "Log in with an SMS code" }).isVisible(), "the login page speaks English");

  // Offline: the app shell still opens from the service worker.
  // The worker installed on the first visit controls pages loaded after it (no clients.claim:
  // a page keeps the version it started with), so the reload is answered by it.
  await context.setOffline(true);
  await page.reload();
  await page.getByRole("heading", { name: "Terrace Digital Village" }).waitFor({ timeout: 10_000 });
  check(true, "offline, a reload still shows the app");
  check(await page.evaluate(() => navigator.serviceWorker.controller !== null), "the service worker answered the reload");
  check(await page.getByText("No network now").isVisible(), "offline, the app says there is no network");
  await context.setOffline(false);
  check(fromWorker.length === 0, `no gRPC-Web answer came from the service worker (${fromWorker.length})`);
} catch (error) {
  failures.push(String(error));
  console.error(error);
  await page?.screenshot({ path: SCREENSHOT, fullPage: true }).then(() => console.error(`screenshot: ${SCREENSHOT}`));
} finally {
  await browser.close();
}

if (failures.length > 0) {
  console.error(`${failures.length} failed:\n${failures.join("\n")}`);
  process.exit(1);
}
console.log("farmer smoke test passed");
