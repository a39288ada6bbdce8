import { gzipSync } from 'node:zlib';

const BLOCK = 512;

/**
 * Files as one gzip-compressed tar (POSIX ustar) archive, each under `folder/`: what an export's link
 * downloads (`tar -xzf` opens it anywhere). Regular files only, mode 0644, owned by nobody in particular.
 */
export function tarGz(folder: string, files: ReadonlyMap<string, string | Uint8Array>, modified: Date): Buffer {
  const parts: Buffer[] = [];
  for (const [name, content] of files) {
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    parts.push(ustarHeader(`${folder}/${name}`, data.length, modified), data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  // The archive ends with two zero blocks.
  parts.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(parts));
}

function ustarHeader(path: string, size: number, modified: Date): Buffer {
  const { name, prefix } = splitPath(path);
  const header = Buffer.alloc(BLOCK);
  const put = (offset: number, length: number, value: string) => header.write(value, offset, length, 'utf8');
  const octal = (offset: number, length: number, value: number) => put(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  put(0, 100, name);
  octal(100, 8, 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, Math.floor(modified.getTime() / 1000));
  put(148, 8, ' '.repeat(8));
  put(156, 1, '0');
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  put(345, 155, prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** ustar keeps a path as a prefix (up to 155 bytes) and a name (up to 100), split at a `/`. */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  const cut = path.lastIndexOf('/', 155);
  const name = path.slice(cut + 1);
  const prefix = path.slice(0, cut);
  if (cut <= 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`${JSON.stringify(path)} is too long for a tar archive`);
  return { name, prefix };
}
