/** Service requests' screens in the console: one chunk for all of them. */
export { default as TypesPage } from "./TypesPage";
export { default as InboxPage } from "./InboxPage";
export { default as RequestPage } from "./RequestPage";
export { default as FilePage } from "./FilePage";
