import { describe, expect, it } from "vitest";
import { formErrors } from "./errors";

describe("formErrors", () => {
  it("puts each violation on the form field its path belongs to", () => {
    const { fields, rest } = formErrors(
      {
        "user.phone_number": "not an E.164 number",
        "initial_grants[0].scope.code": "must be 12 digits",
        "initial_grants[1].scope": "outside your area",
        "user.locale": "unsupported",
      },
      [
        ["user.phone_number", "phone"],
        [/^initial_grants\[\d+\]\.scope/, "village"],
      ],
    );
    expect(fields).toEqual([
      { name: "phone", errors: ["not an E.164 number"] },
      { name: "village", errors: ["must be 12 digits", "outside your area"] },
    ]);
    expect(rest).toEqual(["user.locale: unsupported"]);
  });

  it("matches a string rule on whole path segments only", () => {
    const { fields, rest } = formErrors({ password_hint: "x", "password.strength": "weak" }, [
      ["password", "password"],
    ]);
    expect(fields).toEqual([{ name: "password", errors: ["weak"] }]);
    expect(rest).toEqual(["password_hint: x"]);
  });
});
