import { Select } from "antd";
import { useTranslation } from "react-i18next";
import { LANGUAGES, currentLanguage, setLanguage, type Language } from "./i18n";

export function LanguageSwitch() {
  const { t } = useTranslation();
  return (
    <Select<Language>
      aria-label={t("lang.label")}
      value={currentLanguage()}
      onChange={setLanguage}
      options={LANGUAGES.map((language) => ({ value: language, label: t(`lang.${language}`) }))}
      style={{ width: 120 }}
    />
  );
}
