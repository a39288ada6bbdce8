#!/usr/bin/env node
// The `hostplane` command. It runs the TypeScript sources directly through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
