/**
 * Errors reach the renderer as ApiError from the HTTP client, but through Electron's contextBridge only an
 * Error's message survives; so the renderer reads errors structurally instead of with instanceof.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  return 'Unexpected error';
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
