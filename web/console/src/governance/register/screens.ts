/**
 * The village register's screens, one lazily loaded chunk (App.tsx imports this module for each
 * of its routes): households, a household, a resident, and the division tree.
 */
export { default as HouseholdsPage } from "./HouseholdsPage";
export { default as HouseholdPage } from "./HouseholdPage";
export { default as ResidentPage } from "./ResidentPage";
export { default as DivisionsPage } from "./DivisionsPage";
