// Draws the farmers' app icons (web/farmer/public/): terraces under a sun on green, as an SVG
// source and as PNGs for the web app manifest (192, 512, a maskable 512) and iOS (180).
//
// The PNGs are rasterised here, in plain Node (zlib for the PNG's deflate stream), from the same
// shapes as the SVG, so no image library or browser is needed; the outputs are committed and this
// only runs again when the design changes: `node scripts/farmer-icons.mjs`.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "farmer", "public");

const GREEN = [0x1f, 0x6f, 0x3a];
const SUN = { cx: 0.68, cy: 0.3, r: 0.11, colour: [0xf5, 0xc5, 0x42] };
/** Terrace bands: top edge arches up by `ARCH` in the middle (a quadratic curve), `BAND` thick. */
const BANDS = [
  { top: 0.5, colour: [0xa8, 0xdb, 0x7e] },
  { top: 0.64, colour: [0x7c, 0xc4, 0x5a] },
  { top: 0.78, colour: [0x55, 0xa8, 0x3c] },
];
const ARCH = 0.1;
const BAND = 0.09;
const CORNER = 0.18;

/**
 * The colour at (x, y) in [0,1]², or undefined outside the icon. `maskable`: full-bleed square,
 * artwork shrunk to 80% so it stays inside the platform's mask (the safe zone is a circle of 40%).
 */
function colourAt(x, y, { maskable, rounded }) {
  if (rounded && !maskable && outsideRoundedSquare(x, y)) return undefined;
  if (maskable) {
    x = (x - 0.5) / 0.8 + 0.5;
    y = (y - 0.5) / 0.8 + 0.5;
  }
  for (const band of [...BANDS].reverse()) {
    const top = band.top - 2 * ARCH * x * (1 - x);
    if (y >= top && y <= top + BAND) return band.colour;
  }
  if ((x - SUN.cx) ** 2 + (y - SUN.cy) ** 2 <= SUN.r ** 2) return SUN.colour;
  return GREEN;
}

function outsideRoundedSquare(x, y) {
  const dx = Math.max(CORNER - x, 0, x - (1 - CORNER));
  const dy = Math.max(CORNER - y, 0, y - (1 - CORNER));
  return dx * dx + dy * dy > CORNER * CORNER;
}

/** RGBA pixels, 4×4 samples a pixel for smooth edges. */
function raster(size, options) {
  const pixels = Buffer.alloc(size * size * 4);
  const n = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const c = colourAt((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size, options);
          if (c) {
            r += c[0];
            g += c[1];
            b += c[2];
            a += 1;
          }
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        pixels[i] = Math.round(r / a);
        pixels[i + 1] = Math.round(g / a);
        pixels[i + 2] = Math.round(b / a);
      }
      pixels[i + 3] = Math.round((a / (n * n)) * 255);
    }
  }
  return pixels;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buffer) {
  let c = 0xffffffff;
  for (const byte of buffer) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG (8-bit RGBA, no interlace, filter 0 on every row). */
function png(size, pixels) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // RGBA
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    rows[y * (size * 4 + 1)] = 0;
    pixels.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

function hex([r, g, b]) {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** The same drawing as `colourAt` (rounded, not maskable), on a 100-unit grid. */
function svg() {
  const u = (v) => +(v * 100).toFixed(2);
  const bands = BANDS.map(({ top, colour }) => {
    const bottom = top + BAND;
    return `  <path fill="${hex(colour)}" d="M0 ${u(top)} Q50 ${u(top - ARCH)} 100 ${u(top)} L100 ${u(bottom)} Q50 ${u(bottom - ARCH)} 0 ${u(bottom)} Z"/>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" role="img" aria-label="梯田 Terrace">`,
    `  <clipPath id="c"><rect width="100" height="100" rx="${u(CORNER)}"/></clipPath>`,
    `  <g clip-path="url(#c)">`,
    `  <rect width="100" height="100" fill="${hex(GREEN)}"/>`,
    `  <circle cx="${u(SUN.cx)}" cy="${u(SUN.cy)}" r="${u(SUN.r)}" fill="${hex(SUN.colour)}"/>`,
    ...bands,
    `  </g>`,
    `</svg>`,
    ``,
  ].join("\n");
}

const icons = [
  ["icon-192.png", 192, { rounded: true, maskable: false }],
  ["icon-512.png", 512, { rounded: true, maskable: false }],
  ["icon-maskable-512.png", 512, { rounded: false, maskable: true }],
  // iOS draws its own rounded corners and shows transparency as black: full-bleed.
  ["apple-touch-icon-180.png", 180, { rounded: false, maskable: false }],
];
for (const [name, size, options] of icons) {
  const file = png(size, raster(size, options));
  writeFileSync(join(out, name), file);
  console.log(`${name} ${size}x${size} ${(file.length / 1024).toFixed(1)} kB`);
}
writeFileSync(join(out, "icon.svg"), svg());
console.log("icon.svg");
