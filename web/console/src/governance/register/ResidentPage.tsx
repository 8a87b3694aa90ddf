import { create } from "@bufbuild/protobuf";
import { ActorKind, type Actor } from "@terrace/api/gen/terrace/common/v1/actor_pb";
import { ResidentSchema, type Resident, type ResidentAccessLogEntry } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { describeError } from "@terrace/api";
import { ArrowLeftOutlined, DeleteOutlined, EditOutlined, EyeOutlined, LinkOutlined } from "@ant-design/icons";
import { Alert, App, Button, Descriptions, Flex, Modal, Space, Spin, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { ReasonDialog } from "../../components/ReasonDialog";
import { useRequestId } from "../../components/intent";
import { Pager, useServerPages } from "../../components/paging";
import { errorMessage } from "../../errors";
import { useFormat } from "../../format";
import { UserName } from "../../identity/UserName";
import { AreaName } from "../AreaName";
import { groupNationalId } from "../nationalId";
import { governance } from "./client";
import {
  accessFieldLabel,
  dateText,
  genderLabel,
  relationshipLabel,
  residentStatusColor,
  residentStatusLabel,
} from "./labels";
import { EditResidentDialog } from "./EditResident";
import { LinkAccountDialog } from "./LinkAccount";

/**
 * One resident (GetResident): their record with the ID number masked; revealing the full number
 * with a reason (RevealResidentNationalId, shown once, written to the resident's access log,
 * which they can read); the access log (ListResidentAccessLog, newest first); and the account
 * linked to the record (UpdateResident, mask `user_id`); editing the status, phone, remarks and
 * household (UpdateResident); erasing the record's personal data with a reason (EraseResident).
 */
export default function ResidentPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message, modal } = App.useApp();
  const { residentId = "" } = useParams();
  const [resident, setResident] = useState<Resident>();
  const [problem, setProblem] = useState<unknown>();
  const [revealing, setRevealing] = useState(false);
  const [revealed, setRevealed] = useState<string>();
  const [linking, setLinking] = useState(false);
  const [editing, setEditing] = useState(false);
  const [erasing, setErasing] = useState(false);
  const navigate = useNavigate();
  const unlinkRequest = useRequestId();

  useEffect(() => {
    const abort = new AbortController();
    setProblem(undefined);
    governance
      .getResident({ residentId }, { signal: abort.signal })
      .then((answer) => setResident(answer.resident))
      .catch((err: unknown) => !abort.signal.aborted && setProblem(err));
    return () => abort.abort();
  }, [residentId]);

  const log = useServerPages<ResidentAccessLogEntry>(
    async (page, signal) => {
      const answer = await governance.listResidentAccessLog({ page, residentId }, { signal });
      return { items: answer.entries, nextToken: answer.page?.nextPageToken ?? "" };
    },
    [residentId],
  );

  function unlink(current: Resident) {
    modal.confirm({
      title: t("register.unlinkTitle"),
      content: t("register.unlinkConfirm", { name: current.name }),
      okText: t("register.unlink"),
      okButtonProps: { danger: true },
      cancelText: t("create.cancel"),
      onOk: async () => {
        try {
          const answer = await governance.updateResident({
            requestId: unlinkRequest.get(),
            resident: create(ResidentSchema, { id: current.id, userId: "" }),
            updateMask: { paths: ["user_id"] },
          });
          unlinkRequest.answered();
          setResident(answer.resident);
        } catch (err) {
          unlinkRequest.answered(err);
          void message.error(errorMessage(t, err));
        }
      },
    });
  }

  const columns: TableColumnsType<ResidentAccessLogEntry> = [
    { title: t("register.logWhen"), key: "when", render: (_, e) => format.dateTime(e.accessTime) },
    { title: t("register.logWho"), key: "who", render: (_, e) => <ActorName actor={e.actor} /> },
    { title: t("register.logField"), key: "field", render: (_, e) => accessFieldLabel(t, e.field) },
    { title: t("register.logWhy"), dataIndex: "reason", key: "why" },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Link to={resident ? `/governance/households/${resident.householdId}` : "/governance/households"}>
        <ArrowLeftOutlined /> {t("register.backToHousehold")}
      </Link>
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      {!resident && problem === undefined && <Spin />}
      {resident && (
        <>
          <Flex justify="space-between" align="center" wrap gap={12}>
            <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
              {t("register.residentTitle", { name: resident.name })}
            </Typography.Title>
            <Flex gap={8} wrap>
              <Button icon={<EditOutlined />} onClick={() => setEditing(true)}>
                {t("register.editResident")}
              </Button>
              <Button danger icon={<DeleteOutlined />} onClick={() => setErasing(true)}>
                {t("register.erase")}
              </Button>
            </Flex>
          </Flex>
          <Descriptions bordered size="small" column={{ xs: 1, lg: 2 }} styles={{ label: { whiteSpace: "nowrap" } }}>
            <Descriptions.Item label={t("register.name")}>{resident.name}</Descriptions.Item>
            <Descriptions.Item label={t("register.status")}>
              <Tag color={residentStatusColor(resident.status)}>{residentStatusLabel(t, resident.status)}</Tag>
            </Descriptions.Item>
            <Descriptions.Item label={t("register.nationalId")}>
              <Flex align="center" gap={8} wrap>
                {resident.nationalIdMasked ? (
                  <code id="resident-national-id">{resident.nationalIdMasked}</code>
                ) : (
                  t("register.none")
                )}
                {resident.nationalIdMasked && (
                  <Button size="small" icon={<EyeOutlined />} onClick={() => setRevealing(true)}>
                    {t("register.reveal")}
                  </Button>
                )}
              </Flex>
            </Descriptions.Item>
            <Descriptions.Item label={t("register.relationshipToHead")}>
              {relationshipLabel(t, resident.relationship)}
            </Descriptions.Item>
            <Descriptions.Item label={t("register.gender.label")}>{genderLabel(t, resident.gender)}</Descriptions.Item>
            <Descriptions.Item label={t("register.birthDate")}>{dateText(resident.birthDate)}</Descriptions.Item>
            <Descriptions.Item label={t("register.phone")}>{resident.phoneNumber}</Descriptions.Item>
            <Descriptions.Item label={t("register.village")}>
              <AreaName area={resident.villageCode} />
            </Descriptions.Item>
            <Descriptions.Item label={t("register.account")}>
              <Flex align="center" gap={8} wrap>
                {resident.userId ? <UserName userId={resident.userId} /> : t("register.notLinked")}
                <Button size="small" icon={<LinkOutlined />} onClick={() => setLinking(true)}>
                  {resident.userId ? t("register.changeLink") : t("register.linkAccount")}
                </Button>
                {resident.userId && (
                  <Button size="small" danger onClick={() => unlink(resident)}>
                    {t("register.unlink")}
                  </Button>
                )}
              </Flex>
            </Descriptions.Item>
            <Descriptions.Item label={t("register.remarks")}>{resident.remarks}</Descriptions.Item>
            <Descriptions.Item label={t("register.registered")}>{format.dateTime(resident.audit?.createTime)}</Descriptions.Item>
          </Descriptions>
          <ReasonDialog
            open={revealing}
            name="reveal-national-id"
            title={t("register.revealTitle", { name: resident.name })}
            okText={t("register.reveal")}
            required
            minLength={4}
            danger={false}
            explain={(err) =>
              describeError(err).reason === "ANSWER_NOT_KEPT" ? t("register.revealAnswerLost") : undefined
            }
            action={async (requestId, reason) => {
              const answer = await governance.revealResidentNationalId({ requestId, residentId: resident.id, reason });
              setRevealed(answer.nationalId);
            }}
            onClose={() => setRevealing(false)}
            onDone={() => {
              setRevealing(false);
              log.restart();
              log.reload();
            }}
          >
            <Typography.Paragraph>{t("register.revealHint")}</Typography.Paragraph>
          </ReasonDialog>
          <Modal
            open={revealed !== undefined}
            title={t("register.revealedTitle", { name: resident.name })}
            onCancel={() => setRevealed(undefined)}
            footer={
              <Button type="primary" onClick={() => setRevealed(undefined)}>
                {t("register.revealedDone")}
              </Button>
            }
            destroyOnHidden
          >
            <Typography.Paragraph>
              <code id="revealed-national-id" style={{ fontSize: 22, letterSpacing: 1 }}>
                {revealed ? groupNationalId(revealed) : ""}
              </code>
            </Typography.Paragraph>
            <Typography.Paragraph type="secondary">{t("register.revealedHint")}</Typography.Paragraph>
          </Modal>
          <EditResidentDialog
            resident={resident}
            open={editing}
            onClose={() => setEditing(false)}
            onSaved={(updated) => {
              setEditing(false);
              setResident(updated);
              void message.success(t("register.saved"));
            }}
          />
          <ReasonDialog
            open={erasing}
            name="erase-resident"
            title={t("register.eraseTitle", { name: resident.name })}
            okText={t("register.erase")}
            required
            action={async (requestId, reason) => {
              await governance.eraseResident({ requestId, residentId: resident.id, reason });
            }}
            onClose={() => setErasing(false)}
            onDone={() => {
              setErasing(false);
              void message.success(t("register.erased", { name: resident.name }));
              navigate(`/governance/households/${resident.householdId}`);
            }}
          >
            <Typography.Paragraph>{t("register.eraseHint")}</Typography.Paragraph>
          </ReasonDialog>
          <LinkAccountDialog
            resident={resident}
            open={linking}
            onClose={() => setLinking(false)}
            onLinked={(updated) => {
              setResident(updated);
              void message.success(t("register.linked"));
            }}
          />
        </>
      )}
      <Typography.Title level={2} style={{ fontSize: 18, margin: 0 }}>
        {t("register.accessLog")}
      </Typography.Title>
      <Typography.Text type="secondary">{t("register.accessLogHint")}</Typography.Text>
      {log.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, log.problem)} />}
      <Table<ResidentAccessLogEntry>
        rowKey="id"
        columns={columns}
        dataSource={log.items}
        loading={log.loading}
        pagination={false}
        locale={{ emptyText: t("register.noAccess") }}
      />
      <Pager pages={log} />
    </Space>
  );
}

/** Who read a record: a user by name (identity's GetUser), a job or an agency by what it is. */
function ActorName({ actor }: { actor: Actor | undefined }) {
  const { t } = useTranslation();
  if (!actor) return null;
  if (actor.kind === ActorKind.USER && actor.userId) return <UserName userId={actor.userId} />;
  if (actor.kind === ActorKind.AGENCY) return <>{t("register.agency", { id: actor.agencyClientId })}</>;
  return <>{actor.systemComponent || actor.displayName || t("register.unknownActor")}</>;
}
