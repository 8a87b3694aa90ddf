import { phoneProblem } from "./phone";

/** The sign-up form's fields. */
export type SignUpField = "name" | "phone" | "code";

/** Message keys for what is certainly wrong before anything is sent (the server decides the rest). */
export type SignUpProblemKey =
  | "signup.nameRequired"
  | "login.phoneRequired"
  | "login.phoneInvalid"
  | "login.codeRequired";

/**
 * What the sign-up form can tell without the server: a name, something that can be a phone
 * number, and a 6-digit code. Length and character rules for the name are the server's (its
 * violation is shown beside the field), so they are not copied here.
 */
export function signUpProblem(values: {
  name: string;
  phone: string;
  code: string;
}): Partial<Record<SignUpField, SignUpProblemKey>> {
  const problems: Partial<Record<SignUpField, SignUpProblemKey>> = {};
  if (values.name.trim() === "") {
    problems.name = "signup.nameRequired";
  }
  const phone = phoneProblem(values.phone);
  if (phone) {
    problems.phone = phone === "empty" ? "login.phoneRequired" : "login.phoneInvalid";
  }
  if (!/^\d{6}$/.test(values.code.trim())) {
    problems.code = "login.codeRequired";
  }
  return problems;
}
