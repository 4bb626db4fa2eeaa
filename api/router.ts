import { OpenAPIHono } from '@hono/zod-openapi';
import { validationHook } from './errors';

/** Every route module builds its router here, so every one formats validation errors the same way. */
export function createRouter() {
  return new OpenAPIHono({ defaultHook: validationHook });
}
