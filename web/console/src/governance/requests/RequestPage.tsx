import { describeError, newRequestId } from "@terrace/api";
import { AdminLevel } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { MediaRef } from "@terrace/api/gen/terrace/common/v1/media_pb";
import type { GetServiceRequestResponse } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import {
  NoteVisibility,
  RequestPriority,
  ServiceRequestStatus,
  TimelineEntryKind,
  type DuplicateCandidate,
  type ServiceRequest,
  type ServiceRequestTimelineEntry,
} from "@terrace/api/gen/terrace/governance/v1/service_requests_pb";
import { Role, type User } from "@terrace/api/gen/terrace/identity/v1/identity_pb";
import {
  Alert,
  App,
  Button,
  Card,
  Descriptions,
  Flex,
  Form,
  Image,
  Input,
  Modal,
  Radio,
  Select,
  Space,
  Spin,
  Tag,
  Timeline,
  Typography,
} from "antd";
import { useEffect, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useRequestId } from "../../components/intent";
import { errorMessage, formErrors } from "../../errors";
import { useFormat } from "../../format";
import { UserName } from "../../identity/UserName";
import { withinAreas } from "../../identity/access";
import { adminCodeFromDigits } from "../../identity/labels";
import { useSession } from "../../session";
import { AreaName } from "../AreaName";
import { governance, identity } from "../register/client";
import { useRegisterAreas } from "../register/useRegisterAreas";
import { channelLabel, priorityLabel, requestStatusLabel, StatusTag } from "./labels";
import { PRIORITIES, fieldValueText, isOpen, isOverdue, localized, noteRule, transitions } from "./requests";

type Action =
  | { kind: "status"; to: ServiceRequestStatus }
  | { kind: "note" }
  | { kind: "assign" }
  | { kind: "escalate" }
  | { kind: "merge"; duplicate: ServiceRequest };

/**
 * One request as its officials see it (GetServiceRequest with its type): what was asked, with its
 * photos (signed addresses on this origin: the thumbnail, the full photo on click) and extra
 * fields by their labels; its timeline (ListServiceRequestTimeline, internal entries too); and
 * what an official may do next: the workflow's transitions with a note (public or internal; a
 * rejection's is public), a note with photos (UploadPhoto), assigning (to an official of the
 * responsible area from identity's ListUsers), escalating with a reason, the priority, and
 * merging a possible duplicate (ListDuplicateCandidates) into it.
 */
export default function RequestPage() {
  const { requestId: id = "" } = useParams();
  const { t, i18n } = useTranslation();
  const format = useFormat();
  const { message } = App.useApp();
  const [data, setData] = useState<GetServiceRequestResponse>();
  const [timeline, setTimeline] = useState<ServiceRequestTimelineEntry[]>([]);
  const [duplicates, setDuplicates] = useState<DuplicateCandidate[]>();
  const [problem, setProblem] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const [action, setAction] = useState<Action>();
  const priorityId = useRequestId();

  useEffect(() => {
    const abort = new AbortController();
    const signal = abort.signal;
    setProblem(undefined);
    Promise.all([
      governance.getServiceRequest({ serviceRequestId: id }, { signal }),
      governance.listServiceRequestTimeline({ serviceRequestId: id, page: { pageSize: 500 } }, { signal }),
    ])
      .then(([answer, entries]) => {
        setData(answer);
        setTimeline(entries.entries);
        if (answer.serviceRequest && isOpen(answer.serviceRequest.status)) {
          governance
            .listDuplicateCandidates({ serviceRequestId: id }, { signal })
            .then((d) => setDuplicates(d.candidates))
            .catch(() => setDuplicates([]));
        } else {
          setDuplicates([]);
        }
      })
      .catch((err: unknown) => !signal.aborted && setProblem(err));
    return () => abort.abort();
  }, [id, generation]);

  const request = data?.serviceRequest;
  const type = data?.requestType;
  const areas = useRegisterAreas();
  if (problem !== undefined) return <Alert type="error" showIcon role="alert" message={errorMessage(t, problem)} />;
  if (!request) return <Spin />;

  const reload = () => setGeneration((n) => n + 1);
  const done = () => {
    setAction(undefined);
    void message.success(t("requests.done"));
    reload();
  };

  async function setPriority(priority: RequestPriority) {
    if (!request) return;
    try {
      await governance.updateServiceRequest({
        requestId: priorityId.get(),
        serviceRequest: { id: request.id, priority },
        updateMask: { paths: ["priority"] },
      });
      priorityId.answered();
      done();
    } catch (err) {
      priorityId.answered(err);
      void message.error(errorMessage(t, err));
    }
  }

  const open = isOpen(request.status);
  // Officials of the area now answerable move it along (a hint: the server decides); once it has
  // moved up, the village's officials follow it and add notes.
  const responsible = request.responsibleArea?.code ?? request.villageCode;
  const handles = areas === undefined || withinAreas(responsible, areas);
  const overdue = isOverdue(request, new Date());
  const words = { yes: t("requests.yes"), no: t("requests.no") };
  const items: { key: string; label: string; children: ReactNode }[] = [
    { key: "status", label: t("register.status"), children: <StatusTag status={request.status} /> },
    { key: "type", label: t("requests.type"), children: type ? localized(type.name, i18n.language) : request.typeId },
    { key: "village", label: t("requests.village"), children: <AreaName area={request.villageCode} /> },
    {
      key: "requester",
      label: t("requests.requester"),
      children: request.requesterUserId ? (
        <UserName userId={request.requesterUserId} />
      ) : (
        `${request.contactName} ${request.contactPhone}`
      ),
    },
    { key: "channel", label: t("requests.channel"), children: channelLabel(t, request.channel) },
    { key: "submitted", label: t("requests.submitted"), children: format.dateTime(request.audit?.createTime) },
    {
      key: "due",
      label: t("requests.due"),
      children: !request.dueTime ? (
        t("requests.noDue")
      ) : overdue ? (
        <Space size={4}>
          <Tag color="red">{t("requests.overdue")}</Tag>
          <Typography.Text type="danger" strong>
            {format.dateTime(request.dueTime)}
          </Typography.Text>
        </Space>
      ) : (
        format.dateTime(request.dueTime)
      ),
    },
    {
      key: "priority",
      label: t("requests.priority"),
      children: open ? (
        <Select
          aria-label={t("requests.setPriority")}
          value={request.priority === RequestPriority.UNSPECIFIED ? RequestPriority.NORMAL : request.priority}
          onChange={(p: RequestPriority) => void setPriority(p)}
          options={PRIORITIES.map((p) => ({ value: p, label: priorityLabel(t, p) }))}
          style={{ minWidth: 100 }}
        />
      ) : (
        priorityLabel(t, request.priority)
      ),
    },
    {
      key: "assignee",
      label: t("requests.assignee"),
      children: request.assigneeUserId ? <UserName userId={request.assigneeUserId} /> : t("requests.unassigned"),
    },
    {
      key: "area",
      label: t("requests.responsibleArea"),
      children: (
        <Space size={4}>
          <AreaName area={request.responsibleArea?.code ?? request.villageCode} />
          {request.escalationLevel > 0 && <Tag>{t("requests.escalation", { count: request.escalationLevel })}</Tag>}
        </Space>
      ),
    },
    ...(request.location?.address ? [{ key: "address", label: t("requests.address"), children: request.location.address }] : []),
    ...(request.location?.point
      ? [
          {
            key: "point",
            label: t("requests.point"),
            children: `${request.location.point.latitude.toFixed(6)}, ${request.location.point.longitude.toFixed(6)}`,
          },
        ]
      : []),
    ...(request.rating > 0
      ? [{ key: "rating", label: t("requests.rating"), children: `${t("requests.stars", { count: request.rating })} ${request.ratingComment}` }]
      : []),
    ...(request.reopenCount > 0 ? [{ key: "reopened", label: t("requests.reopened", { count: request.reopenCount }), children: "" }] : []),
    ...(request.mergedIntoRequestId
      ? [
          {
            key: "merged",
            label: t("requests.mergedInto"),
            children: <Link to={`/governance/requests/${request.mergedIntoRequestId}`}>{request.mergedIntoRequestId.slice(-8)}</Link>,
          },
        ]
      : []),
    ...(request.followers.length > 0
      ? [
          {
            key: "followers",
            label: t("requests.followers"),
            children: (
              <Space wrap>
                {request.followers.map((f) =>
                  f.userId ? <UserName key={f.mergedRequestId} userId={f.userId} /> : <span key={f.mergedRequestId}>{`${f.contactName} ${f.contactPhone}`}</span>,
                )}
              </Space>
            ),
          },
        ]
      : []),
  ];

  return (
    <Space direction="vertical" size="middle" style={{ width: "100%" }}>
      <Link to="/governance/requests">{t("requests.back")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
        {t("requests.request", { reference: request.reference || request.id.slice(-8) })}
      </Typography.Title>
      <Card title={t("requests.description")}>
        <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{request.description}</Typography.Paragraph>
        <Descriptions bordered size="small" column={{ xs: 1, md: 2 }} items={items} />
      </Card>
      {request.photos.length > 0 && (
        <Card title={t("requests.photos")}>
          <Photos photos={request.photos} />
        </Card>
      )}
      {Object.keys(request.fieldValues).length > 0 && (
        <Card title={t("requests.extra")}>
          <Descriptions
            bordered
            size="small"
            column={1}
            items={Object.entries(request.fieldValues).map(([key, value]) => {
              const definition = type?.fields.find((f) => f.key === key);
              return {
                key,
                label: (definition && localized(definition.label, i18n.language)) || key,
                children: fieldValueText(definition, value, i18n.language, words),
              };
            })}
          />
        </Card>
      )}
      <Card title={t("requests.actions")}>
        {!handles && (
          <Alert
            type="info"
            showIcon
            style={{ marginBottom: 12 }}
            message={
              <>
                {t("requests.handledAbove")} <AreaName area={responsible} />
              </>
            }
          />
        )}
        <Flex wrap gap={8}>
          {handles && transitions(request.status).map((to) => (
            <Button
              key={to}
              type={to === ServiceRequestStatus.REJECTED ? "default" : "primary"}
              danger={to === ServiceRequestStatus.REJECTED}
              onClick={() => setAction({ kind: "status", to })}
            >
              {t(`requests.to.${ServiceRequestStatus[to]}` as "requests.to.ACKNOWLEDGED")}
            </Button>
          ))}
          <Button onClick={() => setAction({ kind: "note" })}>{t("requests.addNote")}</Button>
          {handles && open && <Button onClick={() => setAction({ kind: "assign" })}>{t("requests.assign")}</Button>}
          {handles && open && <Button onClick={() => setAction({ kind: "escalate" })}>{t("requests.escalate")}</Button>}
        </Flex>
      </Card>
      {open && (
        <Card title={t("requests.duplicates")}>
          {duplicates === undefined ? (
            <Spin />
          ) : duplicates.length === 0 ? (
            <Typography.Text type="secondary">{t("requests.noDuplicates")}</Typography.Text>
          ) : (
            <Space direction="vertical" style={{ width: "100%" }}>
              {duplicates.map((d) =>
                d.request ? (
                  <Flex key={d.request.id} gap={12} wrap align="center">
                    <Link to={`/governance/requests/${d.request.id}`}>{d.request.reference}</Link>
                    <StatusTag status={d.request.status} />
                    <Typography.Text ellipsis style={{ maxWidth: 320 }}>
                      {d.request.description}
                    </Typography.Text>
                    {d.distanceMetres !== undefined && <span>{t("requests.metres", { count: Math.round(d.distanceMetres) })}</span>}
                    <span>{t("requests.daysApart", { count: d.daysApart })}</span>
                    <Button
                      onClick={() => d.request && setAction({ kind: "merge", duplicate: d.request })}
                      aria-label={t("requests.mergeOf", { reference: d.request.reference })}
                    >
                      {t("requests.merge")}
                    </Button>
                  </Flex>
                ) : null,
              )}
            </Space>
          )}
        </Card>
      )}
      <Card title={t("requests.timeline")}>
        <Timeline
          items={timeline.map((e) => ({
            key: e.id,
            color: e.visibility === NoteVisibility.INTERNAL ? "gray" : "blue",
            children: <Entry entry={e} />,
          }))}
        />
      </Card>
      {action && <ActionDialog request={request} action={action} onClose={() => setAction(undefined)} onDone={done} />}
    </Space>
  );
}

function Photos({ photos }: { photos: MediaRef[] }) {
  const { t } = useTranslation();
  return (
    <Image.PreviewGroup>
      <Space wrap>
        {photos.map((p, i) => (
          <Image
            key={p.id || p.uri}
            width={120}
            height={120}
            style={{ objectFit: "cover" }}
            src={p.thumbnailUri || p.uri}
            preview={{ src: p.uri }}
            alt={t("requests.photoAlt", { n: i + 1 })}
          />
        ))}
      </Space>
    </Image.PreviewGroup>
  );
}

function Entry({ entry: e }: { entry: ServiceRequestTimelineEntry }) {
  const { t } = useTranslation();
  const format = useFormat();
  const who =
    e.actor?.displayName || (e.actor?.userId ? <UserName userId={e.actor.userId} /> : e.actor?.systemComponent ? t("requests.system") : "");
  return (
    <Space direction="vertical" size={2}>
      <Space size={6} wrap>
        <Typography.Text strong>{t(`requests.kinds.${TimelineEntryKind[e.kind] ?? "UNSPECIFIED"}` as "requests.kinds.NOTE")}</Typography.Text>
        {e.kind === TimelineEntryKind.STATUS_CHANGED && (
          <span>
            {requestStatusLabel(t, e.fromStatus)} → {requestStatusLabel(t, e.toStatus)}
          </span>
        )}
        {e.visibility === NoteVisibility.INTERNAL && <Tag>{t("requests.internal")}</Tag>}
        {e.rating > 0 && <span>{t("requests.stars", { count: e.rating })}</span>}
        {e.assigneeUserId && <UserName userId={e.assigneeUserId} />}
      </Space>
      {e.note && <Typography.Text style={{ whiteSpace: "pre-wrap" }}>{e.note}</Typography.Text>}
      {e.photos.length > 0 && <Photos photos={e.photos} />}
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {format.dateTime(e.time)} {who}
      </Typography.Text>
    </Space>
  );
}

interface ActionValues {
  note?: string;
  visibility?: NoteVisibility;
  assignee?: string;
}

/** The officials a request may be assigned to: those of its responsible area's level there. */
function useOfficials(area: string, enabled: boolean): User[] | undefined {
  const [users, setUsers] = useState<User[]>();
  useEffect(() => {
    if (!enabled || !area) return;
    const code = adminCodeFromDigits(area);
    const role =
      code.level === AdminLevel.VILLAGE ? Role.VILLAGE_OFFICIAL : code.level === AdminLevel.TOWNSHIP ? Role.TOWNSHIP_OFFICIAL : Role.COUNTY_ADMIN;
    identity
      .listUsers({ area: code, role, page: { pageSize: 200 } })
      .then((answer) => setUsers(answer.users))
      .catch(() => setUsers([]));
  }, [area, enabled]);
  return users;
}

/** The dialog of one action: its note (and visibility), photos for a note, the assignee. */
function ActionDialog({ request, action, onClose, onDone }: { request: ServiceRequest; action: Action; onClose: () => void; onDone: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<ActionValues>();
  const [busy, setBusy] = useState(false);
  const [problems, setProblems] = useState<string[]>([]);
  const [files, setFiles] = useState<File[]>([]);
  const [uploaded, setUploaded] = useState(new Map<File, MediaRef>());
  const requestId = useRequestId();
  const uploadIds = useState(() => new Map<File, string>())[0];
  const me = useSession().account?.userId ?? "";
  const officials = useOfficials(request.responsibleArea?.code ?? request.villageCode, action.kind === "assign");

  const rule = action.kind === "status" ? noteRule(action.to) : { required: action.kind === "note" || action.kind === "escalate", publicOnly: action.kind === "merge" };
  const withVisibility = action.kind === "status" || action.kind === "note";
  const title =
    action.kind === "status"
      ? t(`requests.to.${ServiceRequestStatus[action.to]}` as "requests.to.ACKNOWLEDGED")
      : action.kind === "note"
        ? t("requests.addNote")
        : action.kind === "assign"
          ? t("requests.assign")
          : action.kind === "escalate"
            ? t("requests.escalate")
            : t("requests.mergeOf", { reference: action.duplicate.reference });

  async function upload(): Promise<MediaRef[]> {
    const refs: MediaRef[] = [];
    for (const file of files) {
      let ref = uploaded.get(file);
      if (!ref) {
        const id = uploadIds.get(file) ?? newRequestId();
        uploadIds.set(file, id);
        const answer = await governance.uploadPhoto({
          requestId: id,
          content: new Uint8Array(await file.arrayBuffer()),
          contentType: file.type,
        });
        ref = answer.photo;
        if (ref) {
          const got = ref;
          setUploaded((m) => new Map(m).set(file, got));
        }
      }
      if (ref) refs.push(ref);
    }
    return refs;
  }

  async function submit(values: ActionValues) {
    setBusy(true);
    setProblems([]);
    const note = values.note?.trim() ?? "";
    const visibility = rule.publicOnly ? NoteVisibility.PUBLIC : (values.visibility ?? NoteVisibility.PUBLIC);
    const base = { requestId: requestId.get(), serviceRequestId: request.id };
    try {
      switch (action.kind) {
        case "status":
          await governance.changeServiceRequestStatus({ ...base, status: action.to, note, noteVisibility: visibility, expectedStatus: request.status });
          break;
        case "note": {
          const photos = await upload();
          await governance.addServiceRequestNote({ ...base, note, visibility, photos: photos.map((p) => ({ id: p.id })) });
          break;
        }
        case "assign":
          await governance.assignServiceRequest({ ...base, assigneeUserId: values.assignee ?? "", note });
          break;
        case "escalate":
          await governance.escalateServiceRequest({ ...base, reason: note });
          break;
        case "merge":
          await governance.mergeServiceRequests({
            requestId: requestId.get(),
            primaryServiceRequestId: request.id,
            duplicateServiceRequestId: action.duplicate.id,
            note,
          });
          break;
      }
      requestId.answered();
      onDone();
    } catch (err) {
      requestId.answered(err);
      const { fields, rest } = formErrors(describeError(err).fieldViolations, [
        [/^(note|reason)$/, "note"],
        [/^(note_visibility|visibility)$/, "visibility"],
        [/^assignee_user_id$/, "assignee"],
      ]);
      if (fields.length > 0 || rest.length > 0) {
        form.setFields(fields);
        setProblems(rest);
      } else {
        setProblems([errorMessage(t, err)]);
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal open title={title} okText={title} cancelText={t("create.cancel")} onOk={() => form.submit()} onCancel={onClose} confirmLoading={busy}>
      {problems.length > 0 && <Alert type="error" showIcon role="alert" message={problems.join("; ")} style={{ marginBottom: 16 }} />}
      <Form<ActionValues>
        form={form}
        name="request-action"
        layout="vertical"
        onFinish={submit}
        initialValues={{ visibility: NoteVisibility.PUBLIC, assignee: request.assigneeUserId || undefined }}
      >
        {action.kind === "assign" && (
          <Form.Item name="assignee" label={t("requests.assignTo")} extra={t("requests.assignHint")}>
            <Select
              allowClear
              showSearch
              optionFilterProp="label"
              loading={officials === undefined}
              options={[
                ...(officials ?? []).map((u) => ({ value: u.id, label: `${u.displayName} (${u.phoneNumber})` })),
                ...(officials?.some((u) => u.id === me) ? [] : [{ value: me, label: t("requests.me") }]),
              ]}
            />
          </Form.Item>
        )}
        <Form.Item
          name="note"
          label={action.kind === "escalate" ? t("requests.escalateReason") : action.kind === "merge" ? t("requests.mergeNote") : t("requests.note")}
          rules={rule.required ? [{ required: true, whitespace: true, message: t("requests.noteRequired") }] : []}
        >
          <Input.TextArea rows={4} maxLength={4000} />
        </Form.Item>
        {withVisibility &&
          (rule.publicOnly ? (
            <Typography.Paragraph type="secondary">{t("requests.rejectPublic")}</Typography.Paragraph>
          ) : (
            <Form.Item name="visibility" label={t("requests.visibility")}>
              <Radio.Group
                options={[
                  { value: NoteVisibility.PUBLIC, label: t("requests.public") },
                  { value: NoteVisibility.INTERNAL, label: t("requests.internal") },
                ]}
              />
            </Form.Item>
          ))}
        {action.kind === "note" && (
          <Form.Item label={t("requests.notePhotos")} htmlFor="note-photos">
            <input
              id="note-photos"
              type="file"
              accept="image/jpeg,image/png,image/webp"
              multiple
              onChange={(e) => setFiles([...(e.target.files ?? [])].slice(0, 9))}
            />
            {busy && files.length > 0 && <Typography.Text type="secondary">{t("requests.uploading")}</Typography.Text>}
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}
