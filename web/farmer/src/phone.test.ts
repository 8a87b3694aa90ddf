import { normalizePhone } from "@terrace/api";
import { describe, expect, it } from "vitest";
import { cleanPhoneInput, displayPhone, phoneProblem } from "./phone";

describe("phone input", () => {
  it("accepts Chinese mobiles however they are typed", () => {
    for (const typed of ["13800000001", "138 0000 0001", "138-0000-0001", "+86 138 0000 0001", "008613800000001", " 8613800000001 "]) {
      expect(phoneProblem(typed), typed).toBeUndefined();
      expect(normalizePhone(typed), typed).toBe("+8613800000001");
    }
  });

  it("accepts other E.164 numbers and leaves their checking to the server", () => {
    expect(phoneProblem("+44 20 7946 0958")).toBeUndefined();
  });

  it("says what is wrong before a code is asked for", () => {
    expect(phoneProblem("")).toBe("empty");
    expect(phoneProblem("   ")).toBe("empty");
    expect(phoneProblem("12345")).toBe("notPhone");
    expect(phoneProblem("wang")).toBe("notPhone");
  });

  it("shows mobiles 3-4-4 for checking by eye", () => {
    expect(displayPhone("+8613800000001")).toBe("138 0000 0001");
    expect(displayPhone("13800000001")).toBe("138 0000 0001");
    expect(displayPhone("+442079460958")).toBe("+442079460958");
  });

  it("keeps only what a phone number can hold while typing", () => {
    expect(cleanPhoneInput("138abc0000 0001")).toBe("1380000 0001");
    expect(cleanPhoneInput("+86-138")).toBe("+86-138");
    expect(cleanPhoneInput("1".repeat(30))).toHaveLength(20);
  });
});
