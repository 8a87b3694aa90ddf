import { describe, expect, it } from "vitest";
import { consolePath } from "./links";

describe("an official's inbox item", () => {
  it("leads to the console's page when its link is the console's, else nowhere", () => {
    expect(consolePath({ link: "terrace://console/governance/requests/0190-ab" })).toBe("/governance/requests/0190-ab");
    expect(consolePath({ link: "terrace://market/orders/0190-ab" })).toBeUndefined();
    expect(consolePath({ link: "https://example.org/console/x" })).toBeUndefined();
    expect(consolePath({ link: "" })).toBeUndefined();
  });
});
