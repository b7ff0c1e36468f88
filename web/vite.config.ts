import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build lands inside the Python package so `baatcheet serve` can serve it at "/".
// In development, Vite proxies the API and the Socket.IO endpoint to a local `baatcheet serve`.
const backend = "http://127.0.0.1:3000";

export default defineConfig({
  base: "/",
  plugins: [react()],
  build: {
    outDir: "../src/baatcheet/static/web",
    emptyOutDir: true,
  },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/api": backend,
      "/socket.io": { target: backend, ws: true },
    },
  },
});
