#!/usr/bin/env node
// `npx ctloop …`: runs cli/main.ts through tsx's loader (no build step).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
