import { describe, expect, it } from "vitest";
import { sniffImageType } from "@/lib/images/normalize-image";
import { isHeifPhoto, sniffImageKind } from "@/lib/start-rules";

/** An ISO-BMFF "ftyp" box with the given brand, as an iPhone's HEIC photo begins. */
const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}`)]);

/** A whole ftyp box: major brand, minor version 0, then the compatible brands. */
function ftypBox(major: string, compatible: string[]): Buffer {
  const body = Buffer.concat([
    Buffer.from(`ftyp${major}`),
    Buffer.alloc(4),
    Buffer.from(compatible.join("")),
  ]);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(body.length + 4);
  // A box is followed by the next one: its bytes must not be read as brands.
  return Buffer.concat([size, body, Buffer.from("\0\0\0\x10metaheic")]);
}

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);

describe("image sniffing, written once for the picker and the server", () => {
  it("tells an iPhone's HEIC photo apart, so the picker can say why it refuses it", () => {
    expect(sniffImageKind(ftyp("heic"))).toBe("heic");
    expect(sniffImageKind(ftyp("mif1"))).toBe("heic");
    expect(sniffImageKind(ftyp("isom"))).toBeNull();
  });

  it("is the server's sniff too, which refuses HEIC like any type it cannot decode", () => {
    expect(sniffImageType(ftyp("heic"))).toBeNull();
    expect(sniffImageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe("jpeg");
    expect(sniffImageKind(Buffer.from([0xff, 0xd8]))).toBeNull();
  });
});

describe("HEIC/HEIF photos, refused in the browser before upload", () => {
  it("knows an iPhone photo by its brands, whatever its major brand", () => {
    expect(sniffImageKind(ftypBox("heic", ["mif1", "heic"]))).toBe("heic");
    expect(sniffImageKind(ftypBox("mif1", ["heic", "miaf"]))).toBe("heic");
    expect(sniffImageKind(ftypBox("msf1", ["hevc"]))).toBe("heic");
    expect(sniffImageKind(ftypBox("heix", []))).toBe("heic");
  });

  it("does not call an AVIF or an MP4 a HEIC", () => {
    expect(sniffImageKind(ftypBox("avif", ["mif1", "miaf"]))).toBeNull();
    expect(sniffImageKind(ftypBox("mif1", ["avif", "miaf"]))).toBeNull();
    expect(sniffImageKind(ftypBox("isom", ["iso2", "mp41"]))).toBeNull();
  });

  it("reads no brand past the ftyp box", () => {
    // The next box's bytes spell "heic", but they are not a brand of this box.
    expect(sniffImageKind(ftypBox("isom", []))).toBeNull();
  });

  it("goes by the declared type when the bytes say nothing known (a browser that sends no bytes we know)", () => {
    expect(isHeifPhoto(Buffer.from("not sniffable"), "image/heic")).toBe(true);
    expect(isHeifPhoto(Buffer.from("not sniffable"), "image/HEIF")).toBe(true);
    expect(isHeifPhoto(Buffer.from("not sniffable"), "")).toBe(false);
    expect(isHeifPhoto(ftypBox("heic", []), "")).toBe(true);
  });

  it("trusts the bytes over the type: a JPEG called image/heic (an iPhone that converted it) is a JPEG", () => {
    expect(isHeifPhoto(JPEG, "image/heic")).toBe(false);
  });
});
