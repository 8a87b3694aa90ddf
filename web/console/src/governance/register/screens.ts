/**
 * The village register's screens, one lazily loaded chunk (App.tsx imports this module for each
 * of its routes): households, a household, a resident, the division tree, and governance's
 * tamper-evident audit log with its verification in the browser.
 */
export { default as HouseholdsPage } from "./HouseholdsPage";
export { default as HouseholdPage } from "./HouseholdPage";
export { default as ResidentPage } from "./ResidentPage";
export { default as DivisionsPage } from "./DivisionsPage";
export { default as AuditChainPage } from "../audit/AuditChainPage";
