import { Typography } from "antd";
import { useTranslation } from "react-i18next";

/** Role grants (ListRoleGrants, GrantRole, RevokeRole): next step. */
export default function GrantsPage() {
  const { t } = useTranslation();
  return (
    <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
      {t("grants.title")}
    </Typography.Title>
  );
}
