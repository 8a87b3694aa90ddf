import { create } from "@bufbuild/protobuf";
import { AdminLevel, type AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { HouseholdSchema, HouseholdStatus, type Household } from "@terrace/api/gen/terrace/governance/v1/registry_pb";
import { Code, describeError } from "@terrace/api";
import { PlusOutlined } from "@ant-design/icons";
import { Alert, App, Button, Flex, Form, Input, Modal, Select, Space, Table, Tag, Typography, type TableColumnsType } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";
import { RequiredSelect } from "../../components/RequiredSelect";
import { useRequestId } from "../../components/intent";
import { Pager, useServerPages } from "../../components/paging";
import { errorMessage, formErrors } from "../../errors";
import { adminCodeFromDigits } from "../../identity/labels";
import { AreaName } from "../AreaName";
import { AreaSelect, withParam } from "../AreaSelect";
import { searchDivisions, type DivisionOption } from "../divisions";
import { chosenArea, isVillage, withLevel } from "./areas";
import { useRegisterAreas } from "./useRegisterAreas";
import { governance } from "./client";
import { householdStatusLabel } from "./labels";
import { RegisterCounts } from "./RegisterCounts";

/**
 * The households of one of the official's areas (ListHouseholds), paged by the server, found by
 * the start of their number or address; registering a household (CreateHousehold) opens its page,
 * where its members are added. Above the list, the area's register in numbers
 * (GetRegisterCounts). The area and the search are kept in the address bar, so "back"
 * from a household returns to the same list.
 */
export default function HouseholdsPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const areas = useRegisterAreas();
  const [params, setParams] = useSearchParams();
  const area = areas ? chosenArea(params.get("area"), areas) : undefined;
  const query = params.get("q") ?? "";
  const archived = params.get("status") === "archived";
  const [creating, setCreating] = useState(false);

  const pages = useServerPages<Household>(
    async (page, signal) => {
      const answer = await governance.listHouseholds(
        {
          page,
          area: area && withLevel(area),
          query,
          status: archived ? HouseholdStatus.ARCHIVED : HouseholdStatus.ACTIVE,
        },
        { signal },
      );
      return { items: answer.households, nextToken: answer.page?.nextPageToken ?? "", total: answer.page?.totalSize };
    },
    [area?.code, query, archived],
    area !== undefined,
  );

  function change(name: string, value: string) {
    setParams(withParam(params, name, value), { replace: true });
    pages.restart();
  }

  const areaIsVillage = area !== undefined && isVillage(area.code);
  const columns: TableColumnsType<Household> = [
    {
      title: t("register.householdNumber"),
      key: "number",
      render: (_, h) => <Link to={`/governance/households/${h.id}`}>{h.householdNumber}</Link>,
    },
    ...(areaIsVillage
      ? []
      : [{ title: t("register.village"), key: "village", render: (_: unknown, h: Household) => <AreaName area={h.villageCode} short /> }]),
    { title: t("register.address"), dataIndex: "address", key: "address" },
    {
      title: t("register.head"),
      key: "head",
      // The list carries the head's name (Household.head_name).
      render: (_, h) => h.headName || t("register.noHead"),
    },
    { title: t("register.memberCount"), dataIndex: "memberCount", key: "members", align: "right" },
    {
      title: t("register.status"),
      key: "status",
      render: (_, h) => (
        <Tag color={h.status === HouseholdStatus.ACTIVE ? "green" : undefined}>{householdStatusLabel(t, h.status)}</Tag>
      ),
    },
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Flex justify="space-between" align="center" wrap gap={12}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("register.householdsTitle")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} disabled={!area}>
          {t("register.createHousehold")}
        </Button>
      </Flex>
      <Flex wrap gap={12} role="search">
        <AreaSelect areas={areas} area={area} label={t("register.area")} onChange={(code) => change("area", code)} />
        <Input.Search
          aria-label={t("register.householdSearch")}
          placeholder={t("register.householdSearchPlaceholder")}
          allowClear
          defaultValue={query}
          enterButton={t("people.search")}
          onSearch={(value) => change("q", value.trim())}
          style={{ maxWidth: 360 }}
        />
        <Select
          aria-label={t("register.status")}
          value={archived ? "archived" : "active"}
          onChange={(value: string) => change("status", value === "archived" ? "archived" : "")}
          options={[
            { value: "active", label: householdStatusLabel(t, HouseholdStatus.ACTIVE) },
            { value: "archived", label: householdStatusLabel(t, HouseholdStatus.ARCHIVED) },
          ]}
          style={{ minWidth: 120 }}
        />
      </Flex>
      {areas && areas.length === 0 && <Alert type="info" showIcon message={t("people.areaRequired")} />}
      {area && <RegisterCounts area={area} />}
      {pages.problem !== undefined && <Alert type="error" showIcon role="alert" message={errorMessage(t, pages.problem)} />}
      <Table<Household>
        rowKey="id"
        columns={columns}
        dataSource={pages.items}
        loading={pages.loading}
        pagination={false}
        locale={{ emptyText: query ? t("register.noHouseholdsFound") : t("register.noHouseholds") }}
      />
      <Pager pages={pages} />
      {area && (
        <CreateHouseholdDialog
          open={creating}
          area={area}
          areas={areas ?? []}
          onClose={() => setCreating(false)}
          onCreated={(household) => {
            setCreating(false);
            navigate(`/governance/households/${household.id}`);
          }}
        />
      )}
    </Space>
  );
}

interface HouseholdValues {
  village: string;
  number: string;
  address?: string;
}

const HOUSEHOLD_FIELDS: [string | RegExp, keyof HouseholdValues][] = [
  ["household.village_code", "village"],
  ["household.household_number", "number"],
  ["household.address", "address"],
];

/**
 * Registers a household (CreateHousehold) in a village: the area shown when it is a village, or
 * one found by name inside the official's areas.
 */
function CreateHouseholdDialog({
  open,
  area,
  areas,
  onClose,
  onCreated,
}: {
  open: boolean;
  area: AdminCode;
  areas: AdminCode[];
  onClose: () => void;
  onCreated: (household: Household) => void;
}) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<HouseholdValues>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const requestId = useRequestId();
  const [search, setSearch] = useState("");
  const [found, setFound] = useState<DivisionOption[]>([]);
  const ownVillages = [area, ...areas].filter((a, i, all) => isVillage(a.code) && all.findIndex((b) => b.code === a.code) === i);

  useEffect(() => {
    form.setFieldsValue({ village: isVillage(area.code) ? area.code : undefined });
  }, [area.code, form]);

  useEffect(() => {
    const text = search.trim();
    if (text === "") {
      setFound([]);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      void searchDivisions(text, areas).then(
        (options) => current && setFound(options.filter((o) => adminCodeFromDigits(o.value).level === AdminLevel.VILLAGE)),
      );
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
    // `areas` is rebuilt by the page on every render; its codes are what matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search, areas.map((a) => a.code).join(",")]);

  async function submit(values: HouseholdValues) {
    setBusy(true);
    setProblems([]);
    try {
      const answer = await governance.createHousehold({
        requestId: requestId.get(),
        household: create(HouseholdSchema, {
          villageCode: values.village,
          householdNumber: values.number.trim(),
          address: values.address?.trim() ?? "",
        }),
      });
      requestId.answered();
      form.resetFields(["number", "address"]);
      void message.success(t("register.householdCreated", { number: answer.household?.householdNumber ?? "" }));
      if (answer.household) onCreated(answer.household);
    } catch (err) {
      requestId.answered(err);
      const e = describeError(err);
      if (e.code === Code.InvalidArgument) {
        const { fields, rest } = formErrors(e.fieldViolations, HOUSEHOLD_FIELDS);
        form.setFields(fields);
        setProblems(rest);
      } else if (e.code === Code.AlreadyExists) {
        form.setFields([{ name: "number", errors: [t("register.numberTaken")] }]);
      } else {
        setProblems([errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  const villageOptions = [
    ...ownVillages.map((v) => ({ value: v.code, label: <AreaName area={v} /> })),
    ...found.filter((o) => !ownVillages.some((v) => v.code === o.value)),
  ];

  return (
    <Modal
      open={open}
      title={t("register.createHousehold")}
      okText={t("register.register")}
      cancelText={t("create.cancel")}
      onOk={() => form.submit()}
      onCancel={onClose}
      confirmLoading={busy}
      forceRender
    >
      {problems.length > 0 && (
        <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />
      )}
      <Form<HouseholdValues> form={form} name="create-household" layout="vertical" onFinish={submit}>
        <Form.Item
          name="village"
          label={t("register.village")}
          extra={isVillage(area.code) ? undefined : t("register.villageSearchHelp")}
          rules={[{ required: true, message: t("register.villageRequired") }]}
        >
          <RequiredSelect<string>
            showSearch
            filterOption={false}
            onSearch={setSearch}
            options={villageOptions}
            notFoundContent={search ? t("register.noVillageFound") : null}
          />
        </Form.Item>
        <Form.Item
          name="number"
          label={t("register.householdNumber")}
          extra={t("register.householdNumberHelp")}
          rules={[{ required: true, whitespace: true, message: t("register.householdNumberRequired") }]}
        >
          <Input autoComplete="off" maxLength={32} />
        </Form.Item>
        <Form.Item name="address" label={t("register.address")} extra={t("register.addressHelp")}>
          <Input autoComplete="off" maxLength={200} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
