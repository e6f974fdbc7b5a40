#!/usr/bin/env node
/**
 * Re-encodes 8-bit, non-interlaced PNGs losslessly, smaller: every row unfiltered or filtered one
 * way (whichever deflates smallest at zlib level 9), and the tIME/tEXt chunks dropped. The pixels
 * are decoded again and compared before a file is replaced. The Marketplace images ship in the
 * vsix, whose 2 MiB budget they share with the tasks.
 * Usage: node scripts/images/compress-png.mjs <file.png>...
 */
import fs from 'node:fs';
import zlib from 'node:zlib';

const CHANNELS = { 0: 1, 2: 3, 4: 2, 6: 4 };
const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let crc = 0xffffffff;
  for (const b of buf) crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, crc]);
}

/** The predictor of PNG filter `type` for byte x: a = left, b = above, c = above-left. */
function predict(type, a, b, c) {
  if (type === 1) return a;
  if (type === 2) return b;
  if (type === 3) return (a + b) >> 1;
  if (type === 4) {
    const p = a + b - c;
    const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }
  return 0;
}

function decode(file) {
  const buf = fs.readFileSync(file);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error(`${file}: not a PNG`);
  const chunks = [];
  for (let p = 8; p < buf.length;) {
    const len = buf.readUInt32BE(p);
    chunks.push({ type: buf.toString('ascii', p + 4, p + 8), data: buf.subarray(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  const ihdr = chunks[0].data;
  const [width, height, depth, colour, interlace] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[12]];
  const bpp = CHANNELS[colour];
  if (depth !== 8 || !bpp || interlace !== 0) throw new Error(`${file}: only 8-bit, non-interlaced grey/RGB(A) PNGs are handled`);
  const raw = zlib.inflateSync(Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data)));
  const stride = width * bpp;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const at = y * stride + x;
      const a = x >= bpp ? pixels[at - bpp] : 0;
      const b = y > 0 ? pixels[at - stride] : 0;
      const c = x >= bpp && y > 0 ? pixels[at - stride - bpp] : 0;
      pixels[at] = (raw[y * (stride + 1) + 1 + x] + predict(type, a, b, c)) & 255;
    }
  }
  return { buf, chunks, height, stride, bpp, pixels };
}

/** The image's scanlines all filtered with `type`, deflated. */
function encode(img, type) {
  const rows = Buffer.alloc(img.height * (img.stride + 1));
  for (let y = 0; y < img.height; y++) {
    rows[y * (img.stride + 1)] = type;
    for (let x = 0; x < img.stride; x++) {
      const at = y * img.stride + x;
      const a = x >= img.bpp ? img.pixels[at - img.bpp] : 0;
      const b = y > 0 ? img.pixels[at - img.stride] : 0;
      const c = x >= img.bpp && y > 0 ? img.pixels[at - img.stride - img.bpp] : 0;
      rows[y * (img.stride + 1) + 1 + x] = (img.pixels[at] - predict(type, a, b, c)) & 255;
    }
  }
  return zlib.deflateSync(rows, { level: 9, memLevel: 9 });
}

for (const file of process.argv.slice(2)) {
  const img = decode(file);
  const idat = [0, 1, 2, 3, 4].map((t) => encode(img, t)).reduce((best, d) => (d.length < best.length ? d : best));
  const kept = img.chunks.filter((c) => !['IDAT', 'IEND', 'tIME', 'tEXt'].includes(c.type));
  const out = Buffer.concat([SIGNATURE, ...kept.map((c) => chunk(c.type, c.data)), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
  if (out.length >= img.buf.length) {
    console.log(`${file}: ${img.buf.length} bytes, already as small`);
    continue;
  }
  const temp = `${file}.tmp`;
  fs.writeFileSync(temp, out);
  if (!decode(temp).pixels.equals(img.pixels)) {
    fs.rmSync(temp);
    throw new Error(`${file}: the re-encoded pixels differ; left unchanged`);
  }
  fs.renameSync(temp, file);
  console.log(`${file}: ${img.buf.length} -> ${out.length} bytes`);
}
