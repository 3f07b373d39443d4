import { randomBytes } from "node:crypto";
import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { consentPartOf } from "@/tests/support/consent";

/** Files built to hurt an upload handler; each is small to send and honest about what it claims. */

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * A real decompression bomb: a valid 1-bit greyscale PNG of `side`×`side` pixels (30000² = 900 MP,
 * ~112 MB of raw rows) whose pixel data compresses to about 100 kB.
 */
export function pngBomb(side = 30_000): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale, deflate, adaptive filter, no interlace
  const rowBytes = 1 + Math.ceil(side / 8); // filter byte + packed pixels
  const pixels = deflateSync(Buffer.alloc(rowBytes * side), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", pixels),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Where the GPS-tagged photo claims it was taken; none of it may survive into storage. */
export const GPS_MARKERS = { latitude: "48/1 51/1 2964/100", make: "HostileCam", model: "Leaky 9000" };

/** A phone-like JPEG whose EXIF carries the camera, a GPS position and "rotate 90°" orientation. */
export async function jpegWithGps(width = 1200, height = 900): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#5b7fa6" } })
    .jpeg({ quality: 85 })
    .withExif({
      IFD0: { Make: GPS_MARKERS.make, Model: GPS_MARKERS.model },
      IFD3: {
        GPSLatitudeRef: "N",
        GPSLatitude: GPS_MARKERS.latitude,
        GPSLongitudeRef: "E",
        GPSLongitude: "2/1 17/1 4008/100",
      },
    })
    .withMetadata({ orientation: 6 })
    .toBuffer();
}

/** Whether an EXIF block points to a GPS IFD (tag 0x8825, in either byte order). */
export function hasGpsIfd(exif: Buffer | undefined): boolean {
  return !!exif && (exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88])));
}

const HTML = "<html><body><script>alert(document.cookie)</script></body></html>";
const SVG = `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="800" height="800" onload="alert(1)"><rect width="800" height="800"/></svg>`;

/** Files that are not the image they are named as; every one must be refused (415 or 422). */
export function disguisedFiles(jpeg: Buffer): Array<{ name: string; bytes: Buffer; codes: string[] }> {
  const unsupported = ["unsupported_image_type"];
  const undecodable = ["image_undecodable"];
  return [
    { name: "SVG named .jpg", bytes: Buffer.from(SVG), codes: unsupported },
    { name: "HTML named .jpg", bytes: Buffer.from(HTML), codes: unsupported },
    { name: "PDF named .jpg", bytes: Buffer.from("%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF"), codes: unsupported },
    {
      name: "GIF/JavaScript polyglot",
      bytes: Buffer.from("GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;alert(1)//"),
      codes: unsupported,
    },
    {
      name: "JPEG magic followed by HTML",
      bytes: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(HTML)]),
      codes: undecodable,
    },
    {
      name: "PNG signature followed by SVG",
      bytes: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(SVG)]),
      codes: undecodable,
    },
    {
      name: "WebP header over random bytes",
      bytes: Buffer.concat([Buffer.from("RIFF\x10\x00\x00\x00WEBPVP8 ", "latin1"), randomBytes(4096)]),
      codes: undecodable,
    },
    { name: "truncated JPEG", bytes: jpeg.subarray(0, Math.floor(jpeg.length / 3)), codes: undecodable },
  ];
}

/** A valid JPEG with an HTML page appended after its end marker: an image to sharp, a page to a sniffer. */
export function jpegHtmlPolyglot(jpeg: Buffer): Buffer {
  return Buffer.concat([jpeg, Buffer.from(HTML)]);
}

/**
 * A multipart body streamed without a Content-Length: the form's head, `fileBytes` of 0xFF in 1 MB
 * chunks as the person's photo, then the tail. Lets a test send 50 MB without holding it.
 */
export function streamedUpload(fileBytes: number): { body: ReadableStream<Uint8Array>; contentType: string } {
  const boundary = `----hostile${randomBytes(8).toString("hex")}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="occasion"\r\n\r\nParty\r\n` +
      consentPartOf(boundary) +
      `--${boundary}\r\nContent-Disposition: form-data; name="human_image"; filename="me.jpg"\r\n` +
      "Content-Type: image/jpeg\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 0xff);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(head);
    },
    pull(controller) {
      if (sent >= fileBytes) {
        controller.enqueue(tail);
        controller.close();
        return;
      }
      const size = Math.min(chunk.length, fileBytes - sent);
      controller.enqueue(chunk.subarray(0, size));
      sent += size;
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
