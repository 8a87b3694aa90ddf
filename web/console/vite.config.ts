import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { compression } from "vite-plugin-compression2";

/** Where `npm run dev` sends gRPC-Web calls: a `terrace dev` on this machine. */
const grpcTarget = process.env.TERRACE_GRPC_URL ?? "http://127.0.0.1:50051";

export default defineConfig({
  // The Rust server serves the built console under /console/ on the gRPC port.
  base: "/console/",
  plugins: [
    react(),
    // gzip and brotli beside each script, style and page (`index.js.gz`, `index.js.br`): the
    // server sends them as they are to a browser that accepts them (tower-http's precompressed
    // ServeDir), so nothing is compressed per request. Vite's manifest is read at build time only.
    compression({ algorithms: ["gzip", "brotliCompress"], exclude: [/\.vite\//] }),
  ],
  build: {
    // Read by web/scripts/bundle-size.mjs to find what the login route loads.
    manifest: true,
    // The budget that matters is web/scripts/bundle-size.mjs (gzipped JS of the login route).
    chunkSizeWarningLimit: 1200,
    sourcemap: true,
  },
  server: {
    // gRPC-Web paths are /<package>.<Service>/<Method>: every Terrace service and the gRPC
    // health/reflection services. Same origin in dev as in production, so cookies just work.
    proxy: {
      "^/terrace\\.": { target: grpcTarget },
      "^/grpc\\.": { target: grpcTarget },
    },
  },
  preview: {
    proxy: {
      "^/terrace\\.": { target: grpcTarget },
      "^/grpc\\.": { target: grpcTarget },
    },
  },
});
