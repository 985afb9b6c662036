// The example app, built by `npm run build:example` (make test) into examples/react/dist, a static site that reads
// config.json next to its index.html. It uses the package as an app would, by its name, resolved to the built
// dist/ (run `npm run build` first). By hand: `npm run example` after `make dev` (see README.md, "Frontend").
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const dist = (file) => fileURLToPath(new URL(`../../dist/${file}`, import.meta.url));
const devStackWeb = process.env.DEV_WEB_URL ?? "http://127.0.0.1:8004";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  resolve: {
    alias: [
      { find: /^@crochet-messaging\/client\/react$/, replacement: dist("react.js") },
      { find: /^@crochet-messaging\/client$/, replacement: dist("index.js") },
    ],
  },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true },
  // `npm run example`: the dev stack's own config.json (URLs, demo users and their tokens).
  server: { port: 5173, strictPort: true, proxy: { "/config.json": devStackWeb } },
});
