// End-to-end smoke test of the console in a real browser against a running server: password
// login through gRPC-Web, the shell, the people page, a server field violation placed beside its
// form field, and a lost session answered by a login dialog that keeps the page's unsaved input.
//
// Needs: `terrace dev --demo` on 127.0.0.1:50051, the console served with the gRPC-Web proxy
// (`npm run dev --workspace @terrace/console`, or `vite preview` after a build), and Chromium
// (Debian: `apt-get install chromium`).
//
// Usage: node scripts/smoke-console.mjs [console-url] [chromium-path]
//   default http://127.0.0.1:5173/console/ and /usr/bin/chromium
import { chromium } from "playwright-core";

const base = process.argv[2] ?? "http://127.0.0.1:5173/console/";
const executablePath = process.argv[3] ?? "/usr/bin/chromium";
const PHONE = "13800000002"; // typed as an official would; the client makes it +8613800000002
const PASSWORD = "terrace-demo-official";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const failures = [];
function check(condition, what) {
  console.log(`${condition ? "ok  " : "FAIL"} ${what}`);
  if (!condition) failures.push(what);
}

try {
  const context = await browser.newContext({ locale: "zh-CN" });
  const page = await context.newPage();
  const rpcs = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/terrace.")) rpcs.push({ path, headers: request.headers() });
  });
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));

  await page.goto(base);
  await page.waitForURL(/\/login/);
  check(true, "logged-out visit goes to the login page");

  await page.getByLabel("手机号").first().fill(PHONE);
  await page.getByLabel("密码", { exact: true }).fill("not-the-password");
  await page.getByLabel("密码", { exact: true }).press("Enter");
  const alert = page.getByRole("alert");
  await alert.waitFor({ timeout: 15_000 });
  check((await alert.innerText()).includes("手机号或密码不正确"), "a wrong password is refused in Chinese");

  await page.getByLabel("密码", { exact: true }).fill(PASSWORD);
  await page.getByLabel("密码", { exact: true }).press("Enter");
  await page.waitForURL(/\/identity\/people/, { timeout: 15_000 });
  const login = rpcs.find((r) => r.path.endsWith("/LoginWithPassword"));
  check(login?.headers["x-terrace-session"] === "cookie", "login asks for the refresh cookie");
  await page.getByText("李建国").first().waitFor({ timeout: 10_000 });
  check(true, "the shell shows the official's name");
  const current = rpcs.find((r) => r.path.endsWith("/GetCurrentUser"));
  check(current?.headers.authorization?.startsWith("Bearer ") === true, "calls carry the bearer token");

  // A bad phone number: the server's violation appears beside the phone field.
  await page.getByRole("button", { name: /登记村民/ }).click();
  await page.getByLabel("姓名").fill("测试村民");
  await page.getByLabel("手机号").fill("12345");
  await page.getByRole("dialog").getByRole("button", { name: /登\s*记/ }).click();
  const phoneError = page.locator("#create-villager_phone_help");
  await phoneError.waitFor({ timeout: 10_000 });
  check((await phoneError.innerText()).length > 0, `server violation beside the phone field: ${await phoneError.innerText()}`);
  await page.getByRole("dialog").getByRole("button", { name: /取\s*消/ }).click();

  // The session is lost: the next call and the refresh it triggers are refused.
  const refuse = (route) =>
    route.fulfill({
      status: 200,
      headers: { "content-type": "application/grpc-web+proto", "grpc-status": "16", "grpc-message": "revoked" },
      body: "",
    });
  await page.route("**/terrace.identity.v1.IdentityService/ListUsers", refuse);
  await page.route("**/terrace.identity.v1.IdentityService/RefreshToken", refuse);
  await page.getByRole("button", { name: /登记村民/ }).click();
  await page.getByLabel("姓名").fill("王大妈");
  await page.getByRole("dialog").getByRole("button", { name: /取\s*消/ }).click();
  await page.getByRole("button", { name: /搜\s*索/ }).click();
  const relogin = page.getByRole("dialog").filter({ hasText: "登录已过期" });
  await relogin.waitFor({ timeout: 10_000 });
  check(page.url().includes("/identity/people"), "a lost session opens a login dialog over the page");
  const refresh = rpcs.find((r) => r.path.endsWith("/RefreshToken"));
  check(refresh?.headers["x-terrace-account"]?.length > 0, "the refresh names the account (x-terrace-account)");
  await page.unroute("**/terrace.identity.v1.IdentityService/ListUsers");
  await page.unroute("**/terrace.identity.v1.IdentityService/RefreshToken");
  await relogin.getByLabel("密码", { exact: true }).fill(PASSWORD);
  await relogin.getByLabel("密码", { exact: true }).press("Enter");
  await relogin.waitFor({ state: "hidden", timeout: 10_000 });
  await page.getByRole("button", { name: /登记村民/ }).click();
  check((await page.getByLabel("姓名").inputValue()) === "王大妈", "unsaved input survives the new login");
  await page.getByRole("dialog").getByRole("button", { name: /取\s*消/ }).click();

  // English, then log out.
  await page.getByText("English", { exact: true }).click();
  await page.getByText("Register a villager").first().waitFor({ timeout: 5_000 });
  check(true, "the language switch turns the page to English");
  await page.getByRole("button", { name: "Account" }).click();
  await page.getByRole("menuitem", { name: "Log out", exact: true }).click();
  await page.waitForURL(/\/login/, { timeout: 10_000 });
  check((await page.evaluate(() => localStorage.getItem("terrace.accounts"))) === "[]", "logout forgets the account");
} catch (error) {
  failures.push(String(error));
  console.error(error);
} finally {
  await browser.close();
}

if (failures.length > 0) {
  console.error(`${failures.length} failed:\n${failures.join("\n")}`);
  process.exit(1);
}
console.log("console smoke test passed");
