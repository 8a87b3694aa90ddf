import { create } from "@bufbuild/protobuf";
import {
  HouseholdSchema,
  HouseholdStatus,
  type Household,
  type Resident,
} from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { ArrowLeftOutlined, EditOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, App, Button, Descriptions, Flex, Space, Spin, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useRequestId } from "../../components/intent";
import { errorMessage } from "../../errors";
import { useFormat } from "../../format";
import { AreaName } from "../AreaName";
import { governance } from "./client";
import {
  dateText,
  genderLabel,
  householdStatusLabel,
  relationshipLabel,
  residentStatusColor,
  residentStatusLabel,
} from "./labels";
import { EditHouseholdDialog } from "./EditHousehold";
import { AddResidentDialog } from "./ResidentForm";

/**
 * One household (GetHousehold, its current members included): its number, address, village and
 * head; the members with their ID numbers masked; adding a member (CreateResident) and making a
 * member the head (UpdateHousehold, mask `head_resident_id`); editing its number, address and
 * status (UpdateHousehold).
 */
export default function HouseholdPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const { householdId = "" } = useParams();
  const [household, setHousehold] = useState<Household>();
  const [members, setMembers] = useState<Resident[]>([]);
  const [problem, setProblem] = useState<unknown>();
  const [reload, setReload] = useState(0);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState(false);
  const headRequest = useRequestId();

  useEffect(() => {
    const abort = new AbortController();
    setProblem(undefined);
    governance
      .getHousehold({ householdId }, { signal: abort.signal })
      .then((answer) => {
        setHousehold(answer.household);
        setMembers(answer.members);
      })
      .catch((err: unknown) => !abort.signal.aborted && setProblem(err));
    return () => abort.abort();
  }, [householdId, reload]);

  async function makeHead(resident: Resident) {
    try {
      const answer = await governance.updateHousehold({
        requestId: headRequest.get(),
        household: create(HouseholdSchema, { id: householdId, headResidentId: resident.id }),
        updateMask: { paths: ["head_resident_id"] },
      });
      headRequest.answered();
      setHousehold(answer.household);
      void message.success(t("register.headChanged", { name: resident.name }));
    } catch (err) {
      headRequest.answered(err);
      void message.error(errorMessage(t, err));
    }
  }

  const head = members.find((m) => m.id === household?.headResidentId);
  const active = household?.status === HouseholdStatus.ACTIVE;
  const columns: TableColumnsType<Resident> = [
    {
      title: t("register.name"),
      key: "name",
      render: (_, r) => <Link to={`/governance/residents/${r.id}`}>{r.name}</Link>,
    },
    {
      title: t("register.relationshipToHead"),
      key: "relationship",
      render: (_, r) => relationshipLabel(t, r.relationship),
    },
    { title: t("register.gender.label"), key: "gender", render: (_, r) => genderLabel(t, r.gender) },
    { title: t("register.birthDate"), key: "birth", render: (_, r) => dateText(r.birthDate) },
    {
      title: t("register.nationalId"),
      key: "nationalId",
      render: (_, r) => (r.nationalIdMasked ? <code>{r.nationalIdMasked}</code> : t("register.none")),
    },
    { title: t("register.phone"), dataIndex: "phoneNumber", key: "phone" },
    {
      title: t("register.status"),
      key: "status",
      render: (_, r) => (
        <Space size={4} wrap>
          <Tag color={residentStatusColor(r.status)}>{residentStatusLabel(t, r.status)}</Tag>
          {r.userId && <Tag color="blue">{t("register.linked")}</Tag>}
        </Space>
      ),
    },
    {
      title: t("people.actions"),
      key: "actions",
      render: (_, r) =>
        r.id === household?.headResidentId ? (
          <Tag>{t("register.head")}</Tag>
        ) : (
          active && (
            <Button size="small" onClick={() => void makeHead(r)} aria-label={t("register.makeHeadOf", { name: r.name })}>
              {t("register.makeHead")}
            </Button>
          )
        ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Link to={household ? `/governance/households?area=${household.villageCode}` : "/governance/households"}>
        <ArrowLeftOutlined /> {t("register.backToHouseholds")}
      </Link>
      {problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />}
      {!household && problem === undefined && <Spin />}
      {household && (
        <>
          <Flex justify="space-between" align="center" wrap gap={12}>
            <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
              {t("register.householdTitle", { number: household.householdNumber })}
            </Typography.Title>
            <Flex gap={8} wrap>
              <Button icon={<EditOutlined />} onClick={() => setEditing(true)}>
                {t("register.editHousehold")}
              </Button>
              {active && (
                <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)}>
                  {t("register.addResident")}
                </Button>
              )}
            </Flex>
          </Flex>
          <Descriptions bordered size="small" column={{ xs: 1, lg: 2 }} styles={{ label: { whiteSpace: "nowrap" } }}>
            <Descriptions.Item label={t("register.householdNumber")}>{household.householdNumber}</Descriptions.Item>
            <Descriptions.Item label={t("register.village")}>
              <AreaName area={household.villageCode} />
            </Descriptions.Item>
            <Descriptions.Item label={t("register.address")}>{household.address}</Descriptions.Item>
            <Descriptions.Item label={t("register.head")}>{head?.name ?? t("register.noHead")}</Descriptions.Item>
            <Descriptions.Item label={t("register.memberCount")}>{household.memberCount}</Descriptions.Item>
            <Descriptions.Item label={t("register.status")}>{householdStatusLabel(t, household.status)}</Descriptions.Item>
            <Descriptions.Item label={t("register.registered")}>{format.dateTime(household.audit?.createTime)}</Descriptions.Item>
          </Descriptions>
          <Typography.Title level={2} style={{ fontSize: 18, margin: 0 }}>
            {t("register.members")}
          </Typography.Title>
          <Table<Resident>
            rowKey="id"
            columns={columns}
            dataSource={members}
            pagination={false}
            locale={{ emptyText: t("register.noMembers") }}
          />
          <EditHouseholdDialog
            household={household}
            open={editing}
            onClose={() => setEditing(false)}
            onSaved={(updated) => {
              setEditing(false);
              setHousehold(updated);
              void message.success(t("register.saved"));
            }}
          />
          <AddResidentDialog
            household={household}
            open={adding}
            onClose={() => setAdding(false)}
            onAdded={() => {
              setAdding(false);
              setReload((n) => n + 1);
            }}
          />
        </>
      )}
    </Space>
  );
}
