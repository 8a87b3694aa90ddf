import { create } from "@bufbuild/protobuf";
import { AdminCodeSchema } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Role, RoleGrantSchema, type RoleGrant } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Code, describeError, newRequestId } from "@terrace/api";
import { useMyGrants } from "../shell/CurrentUser";
import { calendarDay, endOfChinaDay, ownAreas, withinAreas } from "./access";
import { PlusOutlined } from "@ant-design/icons";
import {
  Alert,
  App,
  Button,
  Checkbox,
  DatePicker,
  Flex,
  Form,
  Input,
  Modal,
  Space,
  Table,
  Tag,
  Typography,
  type TableColumnsType,
} from "antd";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage, formErrors } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { adminCodeFromDigits, roleLabel } from "./labels";
import { UserName } from "./UserName";
import { RequiredSelect } from "../components/RequiredSelect";
import { AreaName } from "../governance/AreaName";
import { AreaInput, AreaList } from "../governance/AreaField";

const identity = session.client(IdentityService);

/** Failures after which the same request may be sent again under the same request id. */
const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Canceled]);

const GRANTABLE = [
  Role.RESIDENT,
  Role.FARMER,
  Role.BUYER,
  Role.DIGITAL_HELPER,
  Role.VILLAGE_OFFICIAL,
  Role.TOWNSHIP_OFFICIAL,
  Role.COUNTY_ADMIN,
  Role.PLATFORM_ADMIN,
];

interface GrantValues {
  userId: string;
  role: Role;
  scope: string;
  /** A calendar day (dayjs from the DatePicker); the grant lasts through it, China time. */
  expire?: { year(): number; month(): number; date(): number };
  reason?: string;
}

/**
 * Role grants inside the official's scope (ListRoleGrants), granting (GrantRole) and revoking
 * with a reason (RevokeRole). The server decides who may grant what (RoleGrant in
 * identity.proto); its refusals are shown as it words them.
 */
export default function GrantsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const [includeInactive, setIncludeInactive] = useState(false);
  const [userFilter, setUserFilter] = useState("");
  const [tokens, setTokens] = useState<string[]>([""]);
  const [grants, setGrants] = useState<RoleGrant[]>([]);
  const [nextToken, setNextToken] = useState("");
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const [reload, setReload] = useState(0);
  const [granting, setGranting] = useState(false);
  const [revoking, setRevoking] = useState<RoleGrant>();

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    setProblem(undefined);
    identity
      .listRoleGrants(
        {
          page: { pageSize: 50, pageToken: tokens[tokens.length - 1] ?? "" },
          userId: userFilter.trim(),
          includeInactive,
        },
        { signal: abort.signal },
      )
      .then((response) => {
        setGrants(response.grants);
        setNextToken(response.page?.nextPageToken ?? "");
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setGrants([]);
          setProblem(err);
        }
      })
      .finally(() => {
        if (!abort.signal.aborted) {
          setLoading(false);
        }
      });
    return () => abort.abort();
  }, [tokens, userFilter, includeInactive, reload]);

  const restart = () => setTokens([""]);

  const columns: TableColumnsType<RoleGrant> = [
    { title: t("grants.user"), key: "user", render: (_, g) => <UserName userId={g.userId} /> },
    { title: t("grants.role"), key: "role", render: (_, g) => roleLabel(t, g.role) },
    { title: t("grants.scope"), key: "scope", render: (_, g) => <AreaName area={g.scope} /> },
    {
      title: t("grants.expire"),
      key: "expire",
      render: (_, g) => (g.expireTime ? format.dateTime(g.expireTime) : t("grants.never")),
    },
    { title: t("grants.reason"), dataIndex: "reason", key: "reason" },
    {
      title: t("grants.granted"),
      key: "granted",
      render: (_, g) => (
        <>
          {format.dateTime(g.grantTime)}
          {g.grantedBy?.displayName ? ` · ${g.grantedBy.displayName}` : ""}
        </>
      ),
    },
    {
      title: "",
      key: "actions",
      render: (_, g) =>
        g.revokeTime ? (
          <Tag>{t("grants.revoked")}</Tag>
        ) : (
          <Button danger size="small" onClick={() => setRevoking(g)}>
            {t("grants.revoke")}
          </Button>
        ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Flex justify="space-between" align="center" wrap gap={12}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("grants.title")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setGranting(true)}>
          {t("grants.grant")}
        </Button>
      </Flex>
      <Flex wrap gap={12} align="center" role="search">
        <Input.Search
          aria-label={t("grants.user")}
          placeholder={t("grants.user")}
          allowClear
          enterButton={t("people.search")}
          onSearch={(value) => {
            setUserFilter(value);
            restart();
          }}
          style={{ maxWidth: 420 }}
        />
        <Checkbox
          checked={includeInactive}
          onChange={(e) => {
            setIncludeInactive(e.target.checked);
            restart();
          }}
        >
          {t("grants.includeInactive")}
        </Checkbox>
      </Flex>
      {problem !== undefined && (
        <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />
      )}
      <Table<RoleGrant>
        rowKey="id"
        columns={columns}
        dataSource={grants}
        loading={loading}
        pagination={false}
        locale={{ emptyText: t("people.empty") }}
      />
      <Flex justify="flex-end" gap={12} align="center">
        <span aria-live="polite">{t("people.page", { page: tokens.length })}</span>
        <Button disabled={tokens.length <= 1 || loading} onClick={() => setTokens(tokens.slice(0, -1))}>
          {t("people.prev")}
        </Button>
        <Button disabled={!nextToken || loading} onClick={() => setTokens([...tokens, nextToken])}>
          {t("people.next")}
        </Button>
      </Flex>
      <GrantDialog
        open={granting}
        onClose={() => setGranting(false)}
        onGranted={() => {
          setGranting(false);
          void message.success(t("grants.done"));
          restart();
          setReload((n) => n + 1);
        }}
      />
      <RevokeDialog
        grant={revoking}
        onClose={() => setRevoking(undefined)}
        onRevoked={() => {
          setRevoking(undefined);
          setReload((n) => n + 1);
        }}
      />
    </Space>
  );
}

const GRANT_FIELDS: [string | RegExp, keyof GrantValues][] = [
  ["grant.user_id", "userId"],
  ["grant.role", "role"],
  ["grant.scope", "scope"],
  ["grant.expire_time", "expire"],
  ["grant.reason", "reason"],
];

function GrantDialog({ open, onClose, onGranted }: { open: boolean; onClose: () => void; onGranted: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<GrantValues>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRef(newRequestId());
  const myGrants = useMyGrants();
  // The areas the official may grant in: their own grants' areas, as code prefixes.
  const areas = ownAreas(myGrants);

  async function submit(values: GrantValues) {
    setBusy(true);
    setProblems([]);
    try {
      await identity.grantRole({
        requestId: requestId.current,
        grant: create(RoleGrantSchema, {
          userId: values.userId.trim(),
          role: values.role,
          scope: create(AdminCodeSchema, adminCodeFromDigits(values.scope)),
          reason: values.reason?.trim() ?? "",
          expireTime: values.expire ? endOfChinaDay(...calendarDay(values.expire)) : undefined,
        }),
      });
      requestId.current = newRequestId();
      form.resetFields();
      onGranted();
    } catch (err) {
      const e = describeError(err);
      if (!TRANSIENT.has(e.code)) {
        requestId.current = newRequestId();
      }
      const { fields, rest } = formErrors(e.fieldViolations, GRANT_FIELDS);
      form.setFields(fields);
      setProblems(e.code === Code.InvalidArgument ? rest : [errorMessage(t, err)]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={open}
      title={t("grants.grant")}
      onOk={() => form.submit()}
      onCancel={onClose}
      okText={t("grants.grant")}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
      forceRender
    >
      {problems.length > 0 && (
        <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />
      )}
      <Form<GrantValues> form={form} name="grant-role" layout="vertical" onFinish={submit}>
        <Form.Item
          name="userId"
          label={t("grants.user")}
          rules={[{ required: true, whitespace: true, message: t("grants.userRequired") }]}
        >
          <Input autoComplete="off" />
        </Form.Item>
        <Form.Item name="role" label={t("grants.role")} rules={[{ required: true, message: t("grants.roleRequired") }]}>
          <RequiredSelect<Role> options={GRANTABLE.map((role) => ({ value: role, label: roleLabel(t, role) }))} />
        </Form.Item>
        <Form.Item
          name="scope"
          label={t("grants.scope")}
          extra={
            areas.length > 0
              ? <AreaList label={t("grants.scopeWithin")} areas={areas} after={t("grants.scopeHow")} />
              : t("grants.scopeHow")
          }
          rules={[
            { required: true, whitespace: true, message: t("grants.scopeRequired") },
            {
              // A hint only: the server decides what the official's grants cover.
              validator: (_, value: string | undefined) =>
                !value || areas.length === 0 || withinAreas(value, areas)
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("grants.scopeOutside"))),
            },
          ]}
        >
          {/* Found by name, pinyin initials or code inside the official's areas; it holds the code. */}
          <AreaInput within={areas} placeholder={t("grants.scopePlaceholder")} />
        </Form.Item>
        <Form.Item name="expire" label={t("grants.expire")} extra={t("grants.expireHelp")}>
          <DatePicker
            style={{ width: "100%" }}
            disabledDate={(d) => d.endOf("day").toDate().getTime() < Date.now()}
            placeholder={t("grants.never")}
          />
        </Form.Item>
        <Form.Item name="reason" label={t("grants.reason")}>
          <Input.TextArea rows={2} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function RevokeDialog({
  grant,
  onClose,
  onRevoked,
}: {
  grant: RoleGrant | undefined;
  onClose: () => void;
  onRevoked: () => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<{ reason: string }>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>();

  async function submit({ reason }: { reason: string }) {
    if (!grant) {
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      await identity.revokeRole({ requestId: newRequestId(), grantId: grant.id, reason: reason.trim() });
      form.resetFields();
      onRevoked();
    } catch (err) {
      const e = describeError(err);
      const reasonError = e.fieldViolations.reason;
      if (reasonError) {
        form.setFields([{ name: "reason", errors: [reasonError] }]);
      } else {
        setProblem(err);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={grant !== undefined}
      title={t("grants.revokeTitle")}
      onOk={() => form.submit()}
      onCancel={onClose}
      okText={t("grants.revoke")}
      okButtonProps={{ danger: true }}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
      forceRender
    >
      {grant && (
        <p>
          {roleLabel(t, grant.role)} · <AreaName area={grant.scope} /> · {grant.userId}
        </p>
      )}
      {problem !== undefined && (
        <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} style={{ marginBottom: 16 }} />
      )}
      <Form form={form} name="revoke-role" layout="vertical" onFinish={submit}>
        <Form.Item
          name="reason"
          label={t("grants.revokeReason")}
          rules={[{ required: true, whitespace: true, message: t("grants.revokeReasonRequired") }]}
        >
          <Input.TextArea rows={3} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
