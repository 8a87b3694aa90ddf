/** The market's screens in the console: one chunk for both. */
export { default as ListingsPage } from "./ListingsPage";
export { default as OrdersPage } from "./OrdersPage";
