import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { compression } from "vite-plugin-compression2";
import { VitePWA } from "vite-plugin-pwa";

/** Where `npm run dev` and `vite preview` send gRPC-Web calls: a `terrace dev` on this machine. */
const grpcTarget = process.env.TERRACE_GRPC_URL ?? "http://127.0.0.1:50051";

/**
 * gRPC-Web paths are /<package>.<Service>/<Method>: every Terrace service and the gRPC
 * health/reflection services. Same origin in dev as in production, so cookies just work.
 */
const proxy = {
  "^/terrace\\.": { target: grpcTarget },
  "^/grpc\\.": { target: grpcTarget },
};

export default defineConfig({
  // The Rust server serves the built app under /farmer/ on the gRPC port.
  base: "/farmer/",
  plugins: [
    react(),
    VitePWA({
      // A new version waits until the farmer taps "reload" (src/components/UpdatePrompt.tsx):
      // reloading under someone filling in a form would lose their input.
      registerType: "prompt",
      // The manifest is written here; icons come from web/scripts/farmer-icons.mjs (public/).
      manifest: {
        id: "/farmer/",
        name: "梯田 Terrace 数字乡村",
        short_name: "梯田",
        description: "农户的数字乡村应用：登录、我的资料、授权帮办。Terrace digital village for farmers.",
        lang: "zh-CN",
        dir: "ltr",
        start_url: "/farmer/",
        scope: "/farmer/",
        display: "standalone",
        orientation: "portrait",
        theme_color: "#1f6f3a",
        background_color: "#ffffff",
        icons: [
          { src: "icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
          { src: "icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
          { src: "icon-maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      includeAssets: ["icon.svg", "apple-touch-icon-180.png"],
      workbox: {
        // The app shell: every built script, style, page and icon, so the app opens offline.
        globPatterns: ["**/*.{js,css,html,svg,png,webmanifest}"],
        // Client routes (/farmer/profile) open index.html from the cache, but nothing outside
        // the app's own paths: gRPC-Web calls (/terrace.*, /grpc.*) and the console are never
        // answered by this worker. (They are POSTs, which workbox routes do not match anyway;
        // no runtimeCaching is configured, so no API answer is ever stored.)
        navigateFallback: "/farmer/index.html",
        navigateFallbackAllowlist: [/^\/farmer\//],
        navigateFallbackDenylist: [/^\/terrace\./, /^\/grpc\./],
        cleanupOutdatedCaches: true,
        // Source maps are for developers, not for the phone's cache.
        globIgnores: ["**/*.map"],
      },
    }),
    // gzip and brotli beside each script, style and page (`index.js.gz`, `index.js.br`): the
    // server sends them as they are to a browser that accepts them (tower-http's precompressed
    // ServeDir). The service worker's precache list (globPatterns above) names no .gz or .br,
    // and the phone's cache keeps what the browser decoded. Vite's manifest is read at build
    // time only.
    compression({ algorithms: ["gzip", "brotliCompress"], exclude: [/\.vite\//] }),
  ],
  build: {
    // Read by web/scripts/bundle-size.mjs to find what the login route loads.
    manifest: true,
    chunkSizeWarningLimit: 1200,
    sourcemap: true,
  },
  // Beside the console's 5173/4173, so both apps can run at once.
  server: { port: 5174, proxy },
  preview: { port: 4174, proxy },
});
