import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App, type DemoConfig } from "./App";
import "./style.css";

// config.json sits next to index.html: the dev stack's (URLs, demo users with a token each, patterns, purchases).
fetch("config.json", { cache: "no-store" })
  .then((response) => response.json() as Promise<DemoConfig>)
  .then((config) => {
    const wanted = new URLSearchParams(location.search).get("user");
    const me = config.users.find((user) => user.id === wanted) ?? config.users[0];
    if (!me) throw new Error("config.json names no user");
    createRoot(document.getElementById("root")!).render(
      <StrictMode>
        <App config={config} me={me} />
      </StrictMode>,
    );
  })
  .catch((error: unknown) => {
    document.body.textContent = `Could not start: ${String(error)}`;
  });
