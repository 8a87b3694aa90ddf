import { describe, expect, it } from "vitest";
import { signUpProblem } from "./signup";

describe("signUpProblem", () => {
  it("accepts a name, a Chinese mobile in any usual spelling and a 6-digit code", () => {
    expect(signUpProblem({ name: "赵大山", phone: "139 0000 0077", code: "123456" })).toEqual({});
    expect(signUpProblem({ name: " 赵大山 ", phone: "+86 139-0000-0077", code: " 123456 " })).toEqual({});
  });

  it("names every field that is certainly wrong, at once", () => {
    expect(signUpProblem({ name: "  ", phone: "", code: "12" })).toEqual({
      name: "signup.nameRequired",
      phone: "login.phoneRequired",
      code: "login.codeRequired",
    });
    expect(signUpProblem({ name: "赵大山", phone: "12345", code: "123456" })).toEqual({ phone: "login.phoneInvalid" });
  });

  it("leaves the name's length to the server", () => {
    expect(signUpProblem({ name: "王".repeat(200), phone: "13900000077", code: "123456" })).toEqual({});
  });
});
