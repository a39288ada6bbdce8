/** The tenant's app files (EFS in the cloud; a folder locally). Paths are relative to the root. */
export interface AppFilesPort {
  ensureFolder(path: string): Promise<void>;
  writeFile(path: string, content: string | Uint8Array): Promise<void>;
  readFile(path: string): Promise<Buffer | undefined>;
  exists(path: string): Promise<boolean>;
  /** Names of the entries of a folder, sorted; empty if the folder does not exist. */
  listFolder(path: string): Promise<string[]>;
  /** Removes a folder and all it holds if present; says whether it was. */
  removeFolder(path: string): Promise<boolean>;
}
