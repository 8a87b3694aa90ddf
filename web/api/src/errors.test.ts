import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { describeError, errorSentence, mapFieldViolations } from "./errors";
import {
  BadRequestSchema,
  BadRequest_FieldViolationSchema,
  ErrorInfoSchema,
  LocalizedMessageSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb";

/** A detail as it arrives in grpc-status-details-bin: the message's type name and its bytes. */
function encoded<Desc extends DescMessage>(desc: Desc, init: MessageInitShape<Desc>) {
  return { type: desc.typeName, value: toBinary(desc, create(desc, init)) };
}

/** A ConnectError as the transport makes it from a response carrying these encoded details. */
function received(message: string, code: Code, details: ReturnType<typeof encoded>[]) {
  const error = new ConnectError(message, code);
  error.details.push(...details);
  return error;
}

describe("describeError", () => {
  it("collects field violations from BadRequest, joining several on one field", () => {
    const error = received("invalid argument", Code.InvalidArgument, [
      encoded(BadRequestSchema, {
          fieldViolations: [
            create(BadRequest_FieldViolationSchema, {
              field: "user.phone_number",
              description: "must be E.164",
            }),
            create(BadRequest_FieldViolationSchema, {
              field: "user.display_name",
              description: "must not be empty",
            }),
            create(BadRequest_FieldViolationSchema, {
              field: "user.phone_number",
              description: "must be a mobile number",
            }),
          ],
      }),
    ]);
    const described = describeError(error);
    expect(described.code).toBe(Code.InvalidArgument);
    expect(described.codeName).toBe("InvalidArgument");
    expect(described.message).toBe("invalid argument");
    expect(described.fieldViolations).toEqual({
      "user.phone_number": "must be E.164; must be a mobile number",
      "user.display_name": "must not be empty",
    });
    expect(described.reason).toBeUndefined();
    expect(described.retryAfterMs).toBeUndefined();
  });

  it("prefers the text in the language the call asked for, field by field and for the error", () => {
    const error = received("this account is locked; ask your village office", Code.FailedPrecondition, [
      encoded(LocalizedMessageSchema, { locale: "zh-CN", message: "此账号已锁定，请联系村委会" }),
      encoded(BadRequestSchema, {
        fieldViolations: [
          create(BadRequest_FieldViolationSchema, {
            field: "display_name",
            description: "required",
            localizedMessage: { locale: "zh-CN", message: "必填" },
          }),
          // No translation on the server: the English description.
          create(BadRequest_FieldViolationSchema, { field: "repeat", description: "must be between 0 and 10" }),
        ],
      }),
    ]);
    const described = describeError(error);
    expect(described.message).toBe("此账号已锁定，请联系村委会");
    expect(described.fieldViolations).toEqual({
      display_name: "必填",
      repeat: "must be between 0 and 10",
    });
  });

  it("reads ErrorInfo's reason and RetryInfo's delay", () => {
    const error = received("too many attempts", Code.ResourceExhausted, [
      encoded(ErrorInfoSchema, { reason: "TOO_MANY_ATTEMPTS", domain: "terrace" }),
      encoded(RetryInfoSchema, {
        retryDelay: create(DurationSchema, { seconds: 30n, nanos: 500_000_000 }),
      }),
    ]);
    const described = describeError(error);
    expect(described.code).toBe(Code.ResourceExhausted);
    expect(described.reason).toBe("TOO_MANY_ATTEMPTS");
    expect(described.retryAfterMs).toBe(30_500);
    expect(described.fieldViolations).toEqual({});
  });

  it("decodes details from the grpc-status-details-bin trailer a server sends", async () => {
    // A google.rpc.Status as tonic_types writes it, taken through the gRPC-Web transport's own
    // trailer parsing, so the test covers the wire format and not only our code.
    const { create: createMessage, toBinary } = await import("@bufbuild/protobuf");
    const { anyPack } = await import("@bufbuild/protobuf/wkt");
    const { StatusSchema } = await import("./gen/google/rpc/status_pb");
    const { findTrailerError } = await import("@connectrpc/connect/protocol-grpc");
    const status = createMessage(StatusSchema, {
      code: Code.PermissionDenied,
      message: "user is locked",
      details: [
        anyPack(ErrorInfoSchema, createMessage(ErrorInfoSchema, { reason: "USER_LOCKED", domain: "terrace" })),
      ],
    });
    const bin = btoa(String.fromCharCode(...toBinary(StatusSchema, status))).replace(/=+$/, "");
    const trailer = new Headers({
      "grpc-status": String(Code.PermissionDenied),
      "grpc-message": "user%20is%20locked",
      "grpc-status-details-bin": bin,
    });
    const error = findTrailerError(trailer);
    expect(error).toBeDefined();
    const described = describeError(error);
    expect(described.code).toBe(Code.PermissionDenied);
    expect(described.reason).toBe("USER_LOCKED");
    expect(described.message).toBe("user is locked");
  });

  it("describes errors that are not ConnectErrors as unknown", () => {
    const described = describeError(new TypeError("failed to fetch"));
    expect(described.code).toBe(Code.Unknown);
    expect(described.fieldViolations).toEqual({});
  });
});

describe("errorSentence", () => {
  const t = (key: string, options?: { seconds?: number; message?: string }) => `${key}${options ? JSON.stringify(options) : ""}`;
  it("gives the codes a person can act on a sentence of their own, and the rest the server's words", () => {
    expect(errorSentence(t, new ConnectError("token expired", Code.Unauthenticated))).toBe("errors.loginExpired");
    expect(errorSentence(t, new ConnectError("down", Code.Unavailable))).toBe("errors.network");
    expect(errorSentence(t, new ConnectError("no such user", Code.NotFound))).toBe('errors.generic{"message":"no such user"}');
  });
});

describe("mapFieldViolations", () => {
  it("renames known paths and keeps the others", () => {
    const mapped = mapFieldViolations(
      { "user.phone_number": "bad", "initial_grants[0].scope": "outside" },
      { "user.phone_number": "phone" },
    );
    expect(mapped.byField).toEqual({ phone: "bad" });
    expect(mapped.rest).toEqual({ "initial_grants[0].scope": "outside" });
  });
});
