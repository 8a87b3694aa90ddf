import "./i18n";
import "./index.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import App from "./App";
import { session } from "./session";

const container = document.getElementById("root");
if (!container) {
  throw new Error("index.html has no #root");
}
// Act again as the account last used on this phone, with its refresh cookie; the shell waits
// for it (the snapshot says `restoring`) instead of flashing the login page.
void session.resume();
createRoot(container).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
