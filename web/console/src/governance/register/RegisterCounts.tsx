import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import type { GetRegisterCountsResponse } from "@terrace/api/gen/terrace/governance/v1/governance_service_pb";
import { Alert, Card, Flex, Statistic } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { errorMessage } from "../../errors";
import { governance } from "./client";
import { withLevel } from "./areas";

/** The register of an area in numbers (GetRegisterCounts): households and residents by status. */
export function RegisterCounts({ area, reload }: { area: AdminCode; reload?: unknown }) {
  const { t } = useTranslation();
  const [counts, setCounts] = useState<GetRegisterCountsResponse>();
  const [problem, setProblem] = useState<unknown>();

  useEffect(() => {
    const abort = new AbortController();
    setProblem(undefined);
    governance
      .getRegisterCounts({ area: withLevel(area) }, { signal: abort.signal })
      .then(setCounts)
      .catch((err: unknown) => {
        if (!abort.signal.aborted) {
          setCounts(undefined);
          setProblem(err);
        }
      });
    return () => abort.abort();
    // The area's code is what matters (the page may rebuild the object).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [area.code, reload]);

  if (problem !== undefined) return <Alert type="warning" showIcon message={errorMessage(t, problem)} />;
  const items: [string, bigint | undefined][] = [
    [t("counts.households"), counts?.households],
    [t("counts.active"), counts?.activeResidents],
    [t("counts.away"), counts?.awayResidents],
    [t("counts.movedOut"), counts?.movedOutResidents],
    [t("counts.deceased"), counts?.deceasedResidents],
    [t("counts.linked"), counts?.linkedResidents],
    [t("counts.withNationalId"), counts?.residentsWithNationalId],
  ];
  return (
    <Card size="small" title={t("counts.title")} aria-label={t("counts.title")} role="region">
      <Flex wrap gap={32}>
        {items.map(([label, value]) => (
          <Statistic key={label} title={label} value={value === undefined ? "–" : Number(value)} loading={counts === undefined} />
        ))}
      </Flex>
    </Card>
  );
}
