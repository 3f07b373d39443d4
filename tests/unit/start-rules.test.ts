import { describe, expect, it } from "vitest";
import { sniffImageType } from "@/lib/images/normalize-image";
import { sniffImageKind } from "@/lib/start-rules";

/** An ISO-BMFF "ftyp" box with the given brand, as an iPhone's HEIC photo begins. */
const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from(`ftyp${brand}`)]);

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
