import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./locales/en";
import zhCN from "./locales/zh-CN";

/** The languages of the app, zh-CN first: it is the language of the people who use it. */
export const LANGUAGES = ["zh-CN", "en"] as const;
export type Language = (typeof LANGUAGES)[number];

/** Shared with the console (same origin): a family that picked English keeps it in both. */
const STORAGE_KEY = "terrace.language";

function initialLanguage(): Language {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (saved === "zh-CN" || saved === "en") {
    return saved;
  }
  // A phone set to English gets English; everything else, Chinese.
  return globalThis.navigator?.language?.toLowerCase().startsWith("en") ? "en" : "zh-CN";
}

void i18n.use(initReactI18next).init({
  resources: { "zh-CN": { translation: zhCN }, en: { translation: en } },
  lng: initialLanguage(),
  fallbackLng: "zh-CN",
  interpolation: { escapeValue: false }, // React escapes
  returnNull: false,
});

if (globalThis.document) {
  document.documentElement.lang = i18n.language;
}

export function setLanguage(language: Language): void {
  globalThis.localStorage?.setItem(STORAGE_KEY, language);
  document.documentElement.lang = language;
  void i18n.changeLanguage(language);
}

export function currentLanguage(): Language {
  return i18n.language === "en" ? "en" : "zh-CN";
}

export default i18n;
