import type { AdminCode } from "@terrace/api/gen/terrace/common/v1/admin_code_pb";
import { Typography } from "antd";
import { useTranslation } from "react-i18next";
import { areaLabel } from "../identity/labels";
import { useDivisionName } from "./divisions";

/**
 * An area as people read it: the division's name with its place, its code beside it (the code is
 * what the official may need to type or quote); the code alone until the name is known. `short`:
 * the name alone, the code in its tooltip (for tags).
 */
export function AreaName({ area, short = false }: { area: AdminCode | string | undefined; short?: boolean }) {
  const { t } = useTranslation();
  const name = useDivisionName(area);
  const code = areaLabel(t, area);
  if (!name) return <>{code}</>;
  if (short) return <span title={code}>{name.split(" · ")[0]}</span>;
  return (
    <span>
      {name} <Typography.Text type="secondary">{code}</Typography.Text>
    </span>
  );
}
