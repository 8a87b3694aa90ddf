import { GlobalOutline } from "antd-mobile-icons";
import { useTranslation } from "react-i18next";
import { LANGUAGES, currentLanguage, setLanguage } from "../i18n";

/**
 * Two buttons, each language named in itself (someone who cannot read the current one still
 * finds theirs), the chosen one pressed. Plain buttons: keyboard and screen readers work as is.
 */
export function LanguageSwitch() {
  const { t } = useTranslation();
  const current = currentLanguage();
  return (
    <div className="language-switch" role="group" aria-label={t("lang.label")}>
      <GlobalOutline aria-hidden className="language-switch-icon" />
      {LANGUAGES.map((language) => (
        <button
          key={language}
          type="button"
          lang={language}
          aria-pressed={language === current}
          className={language === current ? "pressed" : undefined}
          onClick={() => setLanguage(language)}
        >
          {t(`lang.${language}`)}
        </button>
      ))}
    </div>
  );
}
