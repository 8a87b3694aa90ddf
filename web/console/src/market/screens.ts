/** The market's screens in the console: one chunk for the three. */
export { default as ListingsPage } from "./ListingsPage";
export { default as OrdersPage } from "./OrdersPage";
export { default as PricesPage } from "./PricesPage";
