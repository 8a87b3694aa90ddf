import { Radio } from "antd";
import { useTranslation } from "react-i18next";
import { LANGUAGES, currentLanguage, setLanguage, type Language } from "./i18n";

/**
 * Two buttons rather than a drop-down: one click, each language named in itself, and a radio
 * group for screen readers. (It also keeps antd's Select out of the login page's bundle.)
 */
export function LanguageSwitch() {
  const { t } = useTranslation();
  return (
    <Radio.Group
      aria-label={t("lang.label")}
      optionType="button"
      value={currentLanguage()}
      onChange={(e) => setLanguage(e.target.value as Language)}
      options={LANGUAGES.map((language) => ({ value: language, label: t(`lang.${language}`) }))}
    />
  );
}
