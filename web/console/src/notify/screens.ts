/** Notify's template screens in the console: one chunk for the list and the editor. */
export { default as TemplatesPage } from "./TemplatesPage";
export { default as TemplatePage } from "./TemplatePage";
