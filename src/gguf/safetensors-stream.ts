/**
 * An F32 safetensors file written one tensor at a time (the layout of src/model/safetensors.ts's writer: header
 * padded to 8 bytes, tensors in the given order), for models too large to hold twice or to fit one Node buffer.
 */
import { writeSync } from "node:fs";
import { writeAtomically } from "../util/atomic-file.js";

export function writeSafetensorsStream(file: string, tensors: Array<{ name: string; shape: number[] }>, data: (index: number) => Float32Array): void {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  const counts = tensors.map((t) => t.shape.reduce((a, b) => a * b, 1));
  tensors.forEach((t, i) => {
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + counts[i] * 4] };
    offset += counts[i] * 4;
  });
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  writeAtomically(file, (fd) => {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    tensors.forEach((t, i) => {
      const d = data(i);
      if (d.length !== counts[i]) throw new Error(`tensor ${t.name}: ${d.length} values for shape [${t.shape.join(", ")}]`);
      if (littleEndian) writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      else {
        const le = Buffer.alloc(d.byteLength);
        for (let k = 0; k < d.length; k++) le.writeFloatLE(d[k], k * 4);
        writeSync(fd, le);
      }
    });
  });
}
