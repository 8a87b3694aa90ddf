import { create } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { AdminCodeSchema, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import {
  AgencyAuthMethod,
  AgencyClientSchema,
  AgencyClientStatus,
  Role,
  type AgencyClient,
} from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import { IdentityService } from "@terrace/api/gen/terrace/identity/v1/identity_service_pb";
import { Code, describeError } from "@terrace/api";
import { PlusOutlined } from "@ant-design/icons";
import {
  Alert,
  App,
  Button,
  Checkbox,
  Flex,
  Form,
  Input,
  Modal,
  Radio,
  Select,
  Space,
  Table,
  Tag,
  Typography,
  type TableColumnsType,
} from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Pager, useServerPages } from "../components/paging";
import { ReasonDialog } from "../components/ReasonDialog";
import { useRequestId } from "../components/intent";
import { errorMessage, formErrors } from "../errors";
import { useFormat } from "../format";
import { session } from "../session";
import { useCurrentUser, useMyGrants } from "../shell/CurrentUser";
import { hours, ownAreas, withinAreas } from "./access";
import { adminCodeFromDigits, agencyStatusLabel, authMethodLabel } from "./labels";
import { AreaName } from "../governance/AreaName";
import { AreasSelect } from "../governance/AreaField";
import { RequiredSelect } from "../components/RequiredSelect";

const identity = session.client(IdentityService);

const ADMINS = [Role.COUNTY_ADMIN, Role.PLATFORM_ADMIN];

/** Overlaps offered when rotating a secret (the contract: default 24 h, at most 7 days, 0 = at once). */
const OVERLAPS = [0, 1, 24, 72, 168];

/** A secret answered once: shown with a copy button and a warning, never again. */
interface Secret {
  clientName: string;
  clientId: string;
  secret: string;
  /** After a rotation: when the previous secret stops working. */
  previousExpires?: Timestamp;
  rotated: boolean;
}

/**
 * Agency clients (other government systems calling Terrace) in the admin's county: list,
 * register (the secret shown once), rotate the secret with an overlap, revoke with a reason.
 */
export default function AgenciesPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const me = useCurrentUser();
  const myGrants = useMyGrants();
  const areas = ownAreas(myGrants, ADMINS);
  const [areaCode, setAreaCode] = useState<string>();
  const area = areas.find((a) => a.code === areaCode) ?? areas[0];
  const [includeRevoked, setIncludeRevoked] = useState(false);
  const [creating, setCreating] = useState(false);
  const [rotating, setRotating] = useState<AgencyClient>();
  const [revoking, setRevoking] = useState<AgencyClient>();
  const [secret, setSecret] = useState<Secret>();

  const pages = useServerPages<AgencyClient>(
    async (page, signal) => {
      const response = await identity.listAgencyClients({ page, area, includeRevoked }, { signal });
      return { items: response.clients, nextToken: response.page?.nextPageToken ?? "", total: response.page?.totalSize };
    },
    [area?.code, includeRevoked],
    me !== undefined,
  );

  const columns: TableColumnsType<AgencyClient> = [
    {
      title: t("agencies.name"),
      key: "name",
      render: (_, c) => (
        <>
          <div>{c.name}</div>
          <Typography.Text type="secondary" copyable={{ text: c.id }} style={{ fontSize: 12 }}>
            {c.id}
          </Typography.Text>
        </>
      ),
    },
    { title: t("agencies.description"), dataIndex: "description", key: "description" },
    { title: t("agencies.authMethod"), key: "auth", render: (_, c) => authMethodLabel(t, c.authMethod) },
    { title: t("agencies.scopes"), key: "scopes", render: (_, c) => c.scopes.map((s) => <Tag key={s}>{s}</Tag>) },
    { title: t("agencies.areas"), key: "areas", render: (_, c) => c.areas.map((a) => <Tag key={a.code}><AreaName area={a} short /></Tag>) },
    {
      title: t("agencies.secret"),
      key: "secret",
      render: (_, c) =>
        c.authMethod === AgencyAuthMethod.SECRET
          ? `…${c.secretHint} · ${format.dateTime(c.secretRotateTime)}`
          : c.certificateSha256.slice(0, 16) + "…",
    },
    {
      title: t("people.status"),
      key: "status",
      render: (_, c) => (
        <Tag color={c.status === AgencyClientStatus.ACTIVE ? "green" : "default"}>{agencyStatusLabel(t, c.status)}</Tag>
      ),
    },
    {
      title: t("people.actions"),
      key: "actions",
      render: (_, c) =>
        c.status === AgencyClientStatus.ACTIVE && (
          <Space size={4}>
            {c.authMethod === AgencyAuthMethod.SECRET && (
              <Button size="small" onClick={() => setRotating(c)}>
                {t("agencies.rotate")}
              </Button>
            )}
            <Button size="small" danger onClick={() => setRevoking(c)}>
              {t("agencies.revoke")}
            </Button>
          </Space>
        ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Flex justify="space-between" align="center" wrap gap={12}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("agencies.title")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
          {t("agencies.create")}
        </Button>
      </Flex>
      <Flex wrap gap={12} align="center" role="search">
        {areas.length > 0 && (
          <Select
            aria-label={t("people.area")}
            value={area?.code}
            onChange={(code: string) => {
              setAreaCode(code);
              pages.restart();
            }}
            options={areas.map((a) => ({ value: a.code, label: <AreaName area={a} short /> }))}
            style={{ minWidth: 200 }}
          />
        )}
        <Checkbox
          checked={includeRevoked}
          onChange={(e) => {
            setIncludeRevoked(e.target.checked);
            pages.restart();
          }}
        >
          {t("agencies.includeRevoked")}
        </Checkbox>
      </Flex>
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<AgencyClient>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: t("agencies.empty") }}
        scroll={{ x: true }}
      />
      <Pager pages={pages} />
      <CreateAgencyDialog
        open={creating}
        defaultArea={area?.code ?? ""}
        areas={areas}
        onClose={() => setCreating(false)}
        onCreated={(client, clientSecret) => {
          setCreating(false);
          pages.reload();
          if (clientSecret) {
            setSecret({ clientName: client.name, clientId: client.id, secret: clientSecret, rotated: false });
          } else {
            void message.success(t("agencies.created", { name: client.name }));
          }
        }}
      />
      <RotateDialog
        client={rotating}
        onClose={() => setRotating(undefined)}
        onRotated={(s) => {
          setRotating(undefined);
          pages.reload();
          setSecret(s);
        }}
      />
      <ReasonDialog
        open={revoking !== undefined}
        name="revoke-agency"
        title={t("agencies.revokeTitle")}
        okText={t("agencies.revoke")}
        required
        action={async (requestId, reason) => {
          await identity.revokeAgencyClient({ requestId, clientId: revoking?.id ?? "", reason });
        }}
        onClose={() => setRevoking(undefined)}
        onDone={() => {
          setRevoking(undefined);
          void message.success(t("agencies.revoked"));
          pages.reload();
        }}
      >
        <Typography.Paragraph>{t("agencies.revokeHint", { name: revoking?.name ?? "" })}</Typography.Paragraph>
      </ReasonDialog>
      <SecretDialog secret={secret} onClose={() => setSecret(undefined)} />
    </Space>
  );
}

interface CreateValues {
  name: string;
  description?: string;
  authMethod: AgencyAuthMethod;
  certificateSha256?: string;
  scopes: string[];
  areas: string[];
}

const CREATE_FIELDS: [string | RegExp, keyof CreateValues][] = [
  ["client.name", "name"],
  ["client.description", "description"],
  ["client.auth_method", "authMethod"],
  ["client.certificate_sha256", "certificateSha256"],
  ["client.scopes", "scopes"],
  ["client.areas", "areas"],
];

/** Scopes agencies commonly ask for; others may be typed (`<domain>.<resource>:<read|write>`). */
const KNOWN_SCOPES = [
  "identity.users:read",
  "identity.users:write",
  "governance.requests:read",
  "governance.requests:write",
  "agri.statistics:read",
  "market.listings:read",
];

function CreateAgencyDialog({
  open,
  defaultArea,
  areas,
  onClose,
  onCreated,
}: {
  open: boolean;
  defaultArea: string;
  areas: AdminCode[];
  onClose: () => void;
  onCreated: (client: AgencyClient, secret: string) => void;
}) {
  const { t } = useTranslation();
  const [form] = Form.useForm<CreateValues>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();
  const method = Form.useWatch("authMethod", form);

  useEffect(() => {
    // The admin's area is known only after GetCurrentUser; offer it when the dialog opens.
    if (open && defaultArea && (form.getFieldValue("areas") as string[] | undefined)?.length === 0) {
      form.setFieldValue("areas", [defaultArea]);
    }
  }, [open, defaultArea, form]);

  async function submit(values: CreateValues) {
    setBusy(true);
    setProblems([]);
    try {
      const response = await identity.createAgencyClient({
        requestId: requestId.get(),
        client: create(AgencyClientSchema, {
          name: values.name.trim(),
          description: values.description?.trim() ?? "",
          authMethod: values.authMethod,
          certificateSha256:
            values.authMethod === AgencyAuthMethod.MTLS ? (values.certificateSha256 ?? "").trim().toLowerCase() : "",
          scopes: values.scopes.map((s) => s.trim()).filter(Boolean),
          areas: values.areas.map((code) => create(AdminCodeSchema, adminCodeFromDigits(code))),
        }),
      });
      requestId.answered();
      form.resetFields();
      if (response.client) {
        onCreated(response.client, response.clientSecret);
      }
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      const { fields, rest } = formErrors(e.fieldViolations, CREATE_FIELDS);
      form.setFields(fields);
      setProblems(e.code === Code.InvalidArgument && fields.length > 0 ? rest : [errorMessage(t, err)]);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={open}
      title={t("agencies.create")}
      onOk={() => form.submit()}
      onCancel={onClose}
      okText={t("agencies.createOk")}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
      forceRender
      width={600}
    >
      {problems.length > 0 && (
        <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />
      )}
      <Form<CreateValues>
        form={form}
        name="create-agency"
        layout="vertical"
        onFinish={submit}
        initialValues={{ authMethod: AgencyAuthMethod.SECRET, scopes: [], areas: defaultArea ? [defaultArea] : [] }}
      >
        <Form.Item
          name="name"
          label={t("agencies.name")}
          rules={[{ required: true, whitespace: true, message: t("agencies.nameRequired") }]}
        >
          <Input maxLength={128} autoComplete="off" />
        </Form.Item>
        <Form.Item name="description" label={t("agencies.description")} extra={t("agencies.descriptionHelp")}>
          <Input.TextArea rows={2} />
        </Form.Item>
        <Form.Item name="authMethod" label={t("agencies.authMethod")}>
          <Radio.Group
            options={[AgencyAuthMethod.SECRET, AgencyAuthMethod.MTLS].map((m) => ({ value: m, label: authMethodLabel(t, m) }))}
          />
        </Form.Item>
        {method === AgencyAuthMethod.MTLS && (
          <Form.Item
            name="certificateSha256"
            label={t("agencies.certificate")}
            rules={[{ required: true, pattern: /^\s*[0-9a-fA-F]{64}\s*$/, message: t("agencies.certificateHelp") }]}
          >
            <Input autoComplete="off" spellCheck={false} />
          </Form.Item>
        )}
        <Form.Item
          name="scopes"
          label={t("agencies.scopes")}
          extra={t("agencies.scopesHelp")}
          rules={[{ required: true, type: "array", min: 1, message: t("agencies.scopesRequired") }]}
        >
          <RequiredSelect mode="tags" options={KNOWN_SCOPES.map((s) => ({ value: s, label: s }))} tokenSeparators={[",", " "]} />
        </Form.Item>
        <Form.Item
          name="areas"
          label={t("agencies.areas")}
          extra={t("agencies.areasHelp")}
          rules={[
            { required: true, type: "array", min: 1, message: t("agencies.areasRequired") },
            {
              validator: (_, value: string[] | undefined) =>
                !value || areas.length === 0 || value.every((code) => withinAreas(code, areas))
                  ? Promise.resolve()
                  : Promise.reject(new Error(t("grants.scopeOutside"))),
            },
          ]}
        >
          {/* Each area found by name, pinyin initials or code inside the admin's areas; the value is their codes. */}
          <AreasSelect within={areas} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function RotateDialog({
  client,
  onClose,
  onRotated,
}: {
  client: AgencyClient | undefined;
  onClose: () => void;
  onRotated: (secret: Secret) => void;
}) {
  const { t } = useTranslation();
  const [overlap, setOverlap] = useState(24);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>();
  const requestId = useRequestId();

  async function rotate() {
    if (!client) {
      return;
    }
    setBusy(true);
    setProblem(undefined);
    try {
      const response = await identity.rotateAgencyClientSecret({
        requestId: requestId.get(),
        clientId: client.id,
        overlap: hours(overlap),
      });
      requestId.answered();
      onRotated({
        clientName: client.name,
        clientId: client.id,
        secret: response.clientSecret,
        previousExpires: response.previousSecretExpireTime,
        rotated: true,
      });
    } catch (err) {
      requestId.answered(err);
      setProblem(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open={client !== undefined}
      title={t("agencies.rotateTitle")}
      onOk={() => void rotate()}
      onCancel={() => {
        setProblem(undefined);
        onClose();
      }}
      okText={t("agencies.rotate")}
      okButtonProps={{ danger: true }}
      cancelText={t("create.cancel")}
      confirmLoading={busy}
    >
      <Typography.Paragraph>{t("agencies.rotateHint", { name: client?.name ?? "" })}</Typography.Paragraph>
      {problem !== undefined && (
        <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} style={{ marginBottom: 16 }} />
      )}
      <label htmlFor="rotate-overlap" style={{ display: "block", marginBottom: 8 }}>
        {t("agencies.overlap")}
      </label>
      <Select
        id="rotate-overlap"
        value={overlap}
        onChange={setOverlap}
        style={{ width: "100%" }}
        options={OVERLAPS.map((h) => ({
          value: h,
          label:
            h === 0
              ? t("agencies.overlapNone")
              : h % 24 === 0
                ? t("agencies.overlapDays", { count: h / 24 })
                : t("agencies.overlapHours", { count: h }),
        }))}
      />
    </Modal>
  );
}

/** The one time a secret is shown: copy it, with a warning; closing needs "I have saved it". */
function SecretDialog({ secret, onClose }: { secret: Secret | undefined; onClose: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const [saved, setSaved] = useState(false);
  const close = () => {
    setSaved(false);
    onClose();
  };

  async function copy() {
    if (!secret) {
      return;
    }
    try {
      await navigator.clipboard.writeText(secret.secret);
      void message.success(t("agencies.copied"));
    } catch {
      void message.error(t("agencies.copyFailed"));
    }
  }

  const previous = secret?.previousExpires;
  return (
    <Modal
      open={secret !== undefined}
      title={secret?.rotated ? t("agencies.newSecretTitle") : t("agencies.secretTitle")}
      closable={false}
      maskClosable={false}
      keyboard={false}
      footer={
        <Button type="primary" disabled={!saved} onClick={close}>
          {t("agencies.done")}
        </Button>
      }
      destroyOnHidden
    >
      {secret && (
        <Flex vertical gap={12}>
          <Alert type="warning" showIcon message={t("agencies.secretWarning")} />
          <div>
            {t("agencies.name")}: <strong>{secret.clientName}</strong>
          </div>
          <div>
            client_id:{" "}
            <Typography.Text code copyable>
              {secret.clientId}
            </Typography.Text>
          </div>
          <label htmlFor="agency-secret">client_secret</label>
          <Flex gap={8}>
            <Input id="agency-secret" readOnly value={secret.secret} onFocus={(e) => e.target.select()} style={{ fontFamily: "monospace" }} />
            <Button onClick={() => void copy()}>{t("agencies.copy")}</Button>
          </Flex>
          {secret.rotated && (
            <Alert
              type="info"
              showIcon
              message={
                previous && timestampDate(previous).getTime() > Date.now()
                  ? t("agencies.previousExpires", { time: format.dateTime(previous) })
                  : t("agencies.previousStopped")
              }
            />
          )}
          <Checkbox checked={saved} onChange={(e) => setSaved(e.target.checked)}>
            {t("agencies.saved")}
          </Checkbox>
        </Flex>
      )}
    </Modal>
  );
}
